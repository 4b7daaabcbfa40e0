package io.d2search.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own errors (a URI it refuses, a header or query string over its limits) as the API's other errors are:
 * {@code {"error": "..."}} in JSON, never an HTML page, with {@code Connection: close}. Javalin's handlers never see
 * these requests.
 */
final class JsonErrorHandler extends ErrorHandler {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
      Callback callback) throws IOException {
    String reason = message == null || message.isBlank() ? HttpStatus.getMessage(code) : message;
    byte[] body = JSON.writeValueAsBytes(Map.of("error", code + " " + reason));
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
    // Jetty closes the connection after refusing a request at this level; saying so keeps a keep-alive client from
    // sending its next request on a closed connection (it got no answer at all before).
    response.getHeaders().put(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
    response.write(true, ByteBuffer.wrap(body), callback);
  }
}
