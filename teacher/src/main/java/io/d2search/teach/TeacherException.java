package io.d2search.teach;

/** A teacher back-end failed; the message says which and why (e.g. an HTTP status and an excerpt of the body). */
public class TeacherException extends RuntimeException {

  public TeacherException(String message) {
    super(message);
  }

  public TeacherException(String message, Throwable cause) {
    super(message, cause);
  }
}
