package io.d2search.embed;

import io.d2search.nn.LayerNorm;
import io.d2search.nn.Linear;

/**
 * The PMA forward of docs/d2llm-heads.md written literally, in double precision: full Q, K and V, a masked softmax
 * per head over {@code Q_j·K_{t,j} / sqrt(d)}, concat, LN0, the residual ReLU MLP, LN1, normalisation. Slow and
 * obviously right; {@link PmaHead}'s shortcut is tested against it.
 */
final class PmaReference {
  private PmaReference() {}

  static float[] forward(PmaHead head, float[][] x, long[] mask) {
    int d = head.dimension();
    int h = head.heads();
    int dh = d / h;
    int tokens = x.length;
    double[] s = toDouble(head.seed());
    double[] q = linear(head.fcQ(), s);
    double[][] k = new double[tokens][];
    double[][] v = new double[tokens][];
    for (int t = 0; t < tokens; t++) {
      k[t] = linear(head.fcK(), toDouble(x[t]));
      v[t] = linear(head.fcV(), toDouble(x[t]));
    }
    double[] attn = new double[d];
    for (int j = 0; j < h; j++) {
      double[] score = new double[tokens];
      double max = Double.NEGATIVE_INFINITY;
      for (int t = 0; t < tokens; t++) {
        if (mask[t] == 0) {
          continue;
        }
        for (int c = j * dh; c < (j + 1) * dh; c++) {
          score[t] += q[c] * k[t][c];
        }
        score[t] /= Math.sqrt(d);
        max = Math.max(max, score[t]);
      }
      double sum = 0;
      double[] a = new double[tokens];
      for (int t = 0; t < tokens; t++) {
        a[t] = mask[t] == 0 ? 0 : Math.exp(score[t] - max);
        sum += a[t];
      }
      for (int t = 0; t < tokens; t++) {
        for (int c = j * dh; c < (j + 1) * dh; c++) {
          attn[c] += a[t] / sum * v[t][c];
        }
      }
    }
    double[] o = new double[d];
    for (int i = 0; i < d; i++) {
      o[i] = s[i] + attn[i];
    }
    o = layerNorm(head.ln0(), o);
    double[] z = linear(head.fcO(), o);
    for (int i = 0; i < d; i++) {
      o[i] += Math.max(0, z[i]);
    }
    o = layerNorm(head.ln1(), o);
    double norm = 0;
    for (double value : o) {
      norm += value * value;
    }
    float[] out = new float[d];
    for (int i = 0; i < d; i++) {
      out[i] = (float) (o[i] / Math.sqrt(norm));
    }
    return out;
  }

  static double[] linear(Linear layer, double[] x) {
    double[] y = new double[layer.out()];
    for (int r = 0; r < layer.out(); r++) {
      double sum = layer.bias(r);
      for (int c = 0; c < layer.in(); c++) {
        sum += layer.weight(r, c) * x[c];
      }
      y[r] = sum;
    }
    return y;
  }

  static double[] layerNorm(LayerNorm norm, double[] x) {
    double mean = 0;
    for (double v : x) {
      mean += v;
    }
    mean /= x.length;
    double var = 0;
    for (double v : x) {
      var += (v - mean) * (v - mean);
    }
    var /= x.length;
    float[] gamma = norm.gamma();
    float[] beta = norm.beta();
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = (x[i] - mean) / Math.sqrt(var + 1e-5) * gamma[i] + beta[i];
    }
    return y;
  }

  static double[] toDouble(float[] v) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i];
    }
    return out;
  }
}
