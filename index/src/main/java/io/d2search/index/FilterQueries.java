package io.d2search.index;

import io.d2search.schemas.AttributeSchema;
import io.d2search.schemas.AttributeType;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.index.FieldInfos;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause.Occur;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.ConstantScoreQuery;
import org.apache.lucene.search.MatchNoDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.TermInSetQuery;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.util.BytesRef;

/**
 * Turns a {@link Filter} into the Lucene query of the passages that meet it, by the index's {@link AttributeSchema}.
 * An attribute is known when it is declared or some passage of the reader has it; filtering on any other is an
 * error (a misspelt name would otherwise quietly match nothing).
 */
final class FilterQueries {
  /** Prefix of the indexed (not stored) field of an attribute. */
  static final String FIELD_PREFIX = "attr.";

  private FilterQueries() {}

  /** @return null for an empty filter */
  static Query of(Filter filter, AttributeSchema schema, IndexReader reader) {
    if (filter.isEmpty()) {
      return null;
    }
    FieldInfos fields = FieldInfos.getMergedFieldInfos(reader);
    BooleanQuery.Builder all = new BooleanQuery.Builder();
    for (Filter.Condition c : filter.conditions()) {
      String name = c.field();
      if (!schema.declared().containsKey(name) && fields.fieldInfo(FIELD_PREFIX + name) == null) {
        throw new InvalidFilterException("unknown attribute '" + name + "': no passage has it and index.attributes "
            + "does not declare it" + (schema.declared().isEmpty() ? "" : " (declared: " + schema + ")"));
      }
      all.add(condition(c, schema.typeOf(name)), Occur.FILTER);
    }
    return new ConstantScoreQuery(all.build());
  }

  private static Query condition(Filter.Condition c, AttributeType type) {
    String field = FIELD_PREFIX + c.field();
    try {
      return switch (c) {
        case Filter.AnyOf any -> anyOf(field, any.values(), type);
        case Filter.Range range -> range(field, range, type);
      };
    } catch (IllegalArgumentException e) {
      throw new InvalidFilterException(c.field() + " (" + type.name().toLowerCase(Locale.ROOT) + "): "
          + e.getMessage());
    }
  }

  private static Query anyOf(String field, List<String> values, AttributeType type) {
    switch (type) {
      case KEYWORD -> {
        if (values.size() == 1) {
          return new TermQuery(new Term(field, values.get(0)));
        }
        List<BytesRef> terms = new ArrayList<>(values.size());
        values.forEach(v -> terms.add(new BytesRef(v)));
        return new TermInSetQuery(field, terms);
      }
      case DOUBLE -> {
        return DoublePoint.newSetQuery(field, values.stream().mapToDouble(AttributeType::parseDouble).toArray());
      }
      default -> {
        return LongPoint.newSetQuery(field, values.stream().mapToLong(type::parseLong).toArray());
      }
    }
  }

  private static Query range(String field, Filter.Range r, AttributeType type) {
    if (!type.ordered()) {
      throw new IllegalArgumentException("a range needs a long, double or date attribute; declare its type in "
          + "index.attributes");
    }
    if (type == AttributeType.DOUBLE) {
      double lo = r.lower() == null ? Double.NEGATIVE_INFINITY : AttributeType.parseDouble(r.lower());
      double hi = r.upper() == null ? Double.POSITIVE_INFINITY : AttributeType.parseDouble(r.upper());
      if (r.lower() != null && !r.lowerInclusive()) {
        lo = Math.nextUp(lo);
      }
      if (r.upper() != null && !r.upperInclusive()) {
        hi = Math.nextDown(hi);
      }
      return DoublePoint.newRangeQuery(field, lo, hi);
    }
    long lo = r.lower() == null ? Long.MIN_VALUE : type.parseLong(r.lower());
    long hi = r.upper() == null ? Long.MAX_VALUE : type.parseLong(r.upper());
    if (r.lower() != null && !r.lowerInclusive()) {
      if (lo == Long.MAX_VALUE) {
        return new MatchNoDocsQuery("nothing above " + lo);
      }
      lo++;
    }
    if (r.upper() != null && !r.upperInclusive()) {
      if (hi == Long.MIN_VALUE) {
        return new MatchNoDocsQuery("nothing below " + hi);
      }
      hi--;
    }
    return LongPoint.newRangeQuery(field, lo, hi);
  }
}
