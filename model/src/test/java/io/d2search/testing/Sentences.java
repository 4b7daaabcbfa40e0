package io.d2search.testing;

import java.util.List;

/** Test sentences for the real backbone. */
public final class Sentences {
  private Sentences() {}

  /** Varied on purpose: one word, questions, numbers, code, other scripts, lists, a text past the token limit. */
  public static final List<String> VARIED = List.of(
      "cancer",
      "What is the capital of France?",
      "Paris is the capital and most populous city of France.",
      "A man is eating food.",
      "A man is eating a piece of bread.",
      "The stock market fell sharply today after the central bank raised interest rates by 50 basis points.",
      "Vitamin D deficiency is associated with an increased risk of respiratory infections in children.",
      "0.5 mg/kg of dexamethasone reduced mortality by 17% (95% CI 0.75-0.93) in ventilated patients.",
      "How do I reverse a linked list in Java?",
      "for (int i = 0; i < n; i++) { sum += a[i] * b[i]; }",
      "SELECT name, count(*) FROM users GROUP BY name HAVING count(*) > 1;",
      "Der schnelle braune Fuchs springt über den faulen Hund.",
      "Le chat dort sur le canapé depuis ce matin.",
      "東京は日本の首都です。",
      "Привет, как дела?",
      "😀 🎉 great news everyone!!!",
      "lol",
      "Mitochondria are the powerhouse of the cell.",
      "The mitochondrial membrane potential collapses during apoptosis.",
      "BRCA1 mutations increase the lifetime risk of breast and ovarian cancer.",
      "Ingredients: 2 eggs, 1 cup flour, 1/2 cup milk, a pinch of salt.",
      "Terms and conditions apply. See store for details.",
      "The quick brown fox jumps over the lazy dog.",
      "In 1969, Neil Armstrong became the first person to walk on the Moon.",
      "Error: java.lang.NullPointerException at io.d2search.Main.main(Main.java:42)",
      "https://example.com/search?q=semantic+search&page=2",
      "Is coffee bad for your heart?",
      "Moderate coffee consumption is not associated with cardiovascular disease in most adults.",
      "the the the the the the the the",
      "Kafka Streams provides exactly-once processing semantics with transactions.",
      "Lucene builds an HNSW graph for approximate nearest neighbour search over vectors.",
      "She sells sea shells by the sea shore.",
      "Photosynthesis converts light energy into chemical energy stored in glucose.",
      "Breaking: earthquake of magnitude 6.1 strikes off the coast; no tsunami warning issued.",
      "Q: does aspirin prevent heart attacks? A: in some high-risk patients, yes.",
      "word ".repeat(400).strip(),
      "A short title. " + "Passage text that keeps going with more and more clinical details. ".repeat(20));
}
