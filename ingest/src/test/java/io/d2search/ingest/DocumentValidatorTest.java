package io.d2search.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.d2search.events.DocumentEvent;
import io.d2search.events.DocumentOp;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DocumentValidatorTest {
  private final DocumentValidator validator = new DocumentValidator(new ValidationLimits(16, 10, 100));

  private static DocumentEvent.Builder event(String id) {
    return DocumentEvent.newBuilder().setId(id).setOp(DocumentOp.UPSERT).setTitle("T").setBody("Some text.")
        .setVersion(1).setTs(java.time.Instant.EPOCH);
  }

  private String reason(String key, DocumentEvent e) {
    return validator.validate(key == null ? null : key.getBytes(StandardCharsets.UTF_8), e).reason();
  }

  @Test
  void acceptsAGoodUpsertAndDelete() {
    assertThat(validator.validate("doc-1".getBytes(StandardCharsets.UTF_8), event("doc-1").build()).valid())
        .isTrue();
    assertThat(validator.validate("doc-1", event("doc-1").setOp(DocumentOp.DELETE).setBody(null)
        .setTitle("x".repeat(50)).build()).valid()).isTrue();
  }

  @Test
  void rejectsWithAClearReason() {
    assertThat(reason(null, event("a").build())).contains("key is missing");
    assertThat(reason("a", null)).contains("no value");
    assertThat(reason("b", event("a").build())).contains("record key 'b' differs from document id 'a'");
    assertThat(reason("", event("").build())).contains("document id is empty");
    assertThat(reason("a#1", event("a#1").build())).contains("'#'");
    assertThat(reason("x".repeat(17), event("x".repeat(17)).build())).contains("17 characters").contains("16");
    assertThat(reason("a", event("a").setVersion(-1).build())).contains("negative");
    assertThat(reason("a", event("a").setBody(null).build())).contains("UPSERT needs a non-blank body");
    assertThat(reason("a", event("a").setBody(" \n ").build())).contains("UPSERT needs a non-blank body");
    assertThat(reason("a", event("a").setBody("b".repeat(101)).build())).contains("body has 101 characters");
    assertThat(reason("a", event("a").setTitle("t".repeat(11)).build())).contains("title has 11 characters");
  }

  @Test
  void rejectsAKeyThatIsNotUtf8() {
    ValidationResult result = validator.validate(new byte[] {(byte) 0xC3, (byte) 0x28}, event("a").build());
    assertThat(result.valid()).isFalse();
    assertThat(result.reason()).contains("not valid UTF-8");
  }

  @Test
  void defaultsAreDocumented() {
    assertThat(ValidationLimits.defaults()).isEqualTo(new ValidationLimits(512, 1_000, 1_000_000));
  }

  /** Hybrid retrieval: attributes are filtered on by their declared types, so a value its type cannot read is refused. */
  @Test
  void attributesMustBeFilterableByTheirDeclaredTypes() {
    DocumentValidator typed = new DocumentValidator(new ValidationLimits(16, 10, 100, 3, 20,
        io.d2search.schemas.AttributeSchema.parse("year:long,published:date,price:double")));
    java.util.function.Function<java.util.Map<String, String>, String> why = attributes -> {
      var result = typed.validate("a", event("a").setAttributes(attributes).build());
      return result.valid() ? "valid" : result.reason();
    };
    assertThat(why.apply(java.util.Map.of("lang", "en", "year", "2024", "published", "2024-05-01"))).isEqualTo("valid");
    assertThat(why.apply(java.util.Map.of("published", "2024-05-01T10:00:00Z", "price", "9.5"))).isEqualTo("valid");
    assertThat(why.apply(java.util.Map.of("year", "MMXXIV"))).contains("attribute year").contains("not a long");
    assertThat(why.apply(java.util.Map.of("published", "May 1st"))).contains("attribute published").contains("date");
    assertThat(why.apply(java.util.Map.of("price", "NaN"))).contains("not a double");
    assertThat(why.apply(java.util.Map.of("bad name", "x"))).contains("attribute name 'bad name'");
    assertThat(why.apply(java.util.Map.of("lang", "x".repeat(21)))).contains("21 characters").contains("20");
    assertThat(why.apply(java.util.Map.of("a", "1", "b", "2", "c", "3", "d", "4"))).contains("4 attributes");
    // A DELETE's attributes are not looked at.
    assertThat(typed.validate("a", event("a").setOp(DocumentOp.DELETE).setAttributes(java.util.Map.of("year", "x"))
        .build()).valid()).isTrue();
  }
}
