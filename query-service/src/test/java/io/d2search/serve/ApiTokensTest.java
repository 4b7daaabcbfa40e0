package io.d2search.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import org.junit.jupiter.api.Test;

class ApiTokensTest {
  @Test
  void aTokenHasTheRightsItIsListedUnder() {
    ApiTokens tokens = ApiTokens.parse(" search:tok-aaaaaaaaaaaaaaaa , clicks:tok-aaaaaaaaaaaaaaaa,admin:tok-bbbbbbbbbbbbbbbb");
    assertThat(tokens.enabled()).isTrue();
    assertThat(tokens.rights("tok-aaaaaaaaaaaaaaaa")).contains(Set.of(ApiTokens.Right.SEARCH, ApiTokens.Right.CLICKS));
    assertThat(tokens.rights("tok-bbbbbbbbbbbbbbbb")).contains(Set.of(ApiTokens.Right.ADMIN));
    assertThat(tokens.rights("tok-cccccccccccccccc")).isEmpty();
    assertThat(tokens.rights("")).isEmpty();
    assertThat(tokens.toString()).doesNotContain("tok-");
    assertThat(ApiTokens.parse("").enabled()).isFalse();
  }

  @Test
  void aBadEntryIsRefusedWithoutEchoingTheToken() {
    assertThatThrownBy(() -> ApiTokens.parse("search:short-secret")).hasMessageContaining("entry 1")
        .hasMessageNotContaining("short-secret");
    assertThatThrownBy(() -> ApiTokens.parse("search:tok-aaaaaaaaaaaaaaaa,root:tok-aaaaaaaaaaaaaaaa"))
        .hasMessageContaining("entry 2").hasMessageNotContaining("tok-");
  }
}
