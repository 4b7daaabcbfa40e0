package io.d2search.distill;

import io.d2search.embed.Embedder;
import io.d2search.embed.ModelInfo;
import io.d2search.embed.TokenStates;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What computes the token states a {@link TokenStateCache} lacks, and the identity they are cached under: the
 * serving backbone ({@link #of(Embedder)}, its last layer) or the first layers of it that a fine-tuned student keeps
 * frozen ({@link PartialBackbone}).
 */
public interface TokenStateSource {
  /** Hex SHA-256 identifying the states (the backbone graph's, or one derived from it and the layer). */
  String backboneSha256();

  /** The token limit texts are cut at. */
  int maxTokens();

  /** Size of each token state. */
  int dimension();

  /** Texts per {@link #compute} call that keep it efficient. */
  int batchSize();

  /** The token states of each text, real tokens only, in input order. */
  List<TokenSequence> compute(List<String> texts);

  /** The last layer's states, as {@link Embedder#tokenStates} computes them. */
  static TokenStateSource of(Embedder embedder) {
    Objects.requireNonNull(embedder, "embedder");
    ModelInfo info = embedder.info();
    return new TokenStateSource() {
      @Override
      public String backboneSha256() {
        return info.backboneSha256();
      }

      @Override
      public int maxTokens() {
        return info.maxTokens();
      }

      @Override
      public int dimension() {
        return info.dimension();
      }

      @Override
      public int batchSize() {
        return embedder.config().batchSize();
      }

      @Override
      public List<TokenSequence> compute(List<String> texts) {
        TokenStates states = embedder.tokenStates(texts);
        List<TokenSequence> out = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
          out.add(TokenSequence.fromBatch(states.data(), i, states.tokens(), states.dim(), states.mask()[i]));
        }
        return out;
      }
    };
  }
}
