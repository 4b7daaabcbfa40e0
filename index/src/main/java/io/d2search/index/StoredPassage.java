package io.d2search.index;

/**
 * A passage as the index stores it (without its vector).
 *
 * @param passageId passage id {@code docId#n}; never null
 * @param docId the document it belongs to; never null
 * @param n position of the passage in its document, from 0
 * @param title document title; may be null
 * @param text passage text; never null
 * @param url document URL; may be null
 * @param modelVersion model version that made the vector; equal to the index's
 * @param textHash SHA-256 (hex) of the text that was embedded
 * @param docVersion version of the document event the passage came from
 */
public record StoredPassage(
    String passageId, String docId, int n, String title, String text, String url, String modelVersion,
    String textHash, long docVersion) {}
