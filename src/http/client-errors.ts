/**
 * Requests Node's HTTP parser cannot read (a NUL in the URL, an invalid header line,
 * a bad Content-Length, headers past the size limit, a request that did not arrive
 * in time) never reach Fastify's routes or error handler: the server's 'clientError'
 * event answers them. Fastify's default handler wrote its own body
 * ({"error":"Bad Request","message":"Client Error"}); this one writes Runnel's error
 * shape with a catalogue code, then closes the connection (its framing cannot be trusted).
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorCatalogue, type ErrorCode } from '../errors.js';

type ClientError = Error & { code?: string };

function codeFor(error: ClientError): { code: ErrorCode; message: string } {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { code: 'REQUEST_BODY_TIMEOUT', message: 'the request (headers and body) did not arrive in time; the connection is closed' };
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return { code: 'HEADERS_TOO_LARGE', message: 'the request headers are larger than the server accepts; the connection is closed' };
  }
  return { code: 'INVALID_REQUEST', message: `the request is not valid HTTP/1.1 (${error.code ?? 'unknown'}); the connection is closed` };
}

/** The whole HTTP response (status line, headers, body) answering a client error. */
export function clientErrorResponse(error: ClientError): string {
  const { code, message } = codeFor(error);
  const status = errorCatalogue[code].status;
  const body = JSON.stringify({ error: { code, message } });
  const reason = STATUS_CODES[status] ?? 'Error';
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** Fastify's clientErrorHandler: answer in the documented shape, then close. */
export function answerClientError(error: ClientError, socket: Duplex): void {
  // A reset connection, or one already gone: nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Closed once the answer is flushed, whether or not the client closes its side.
  socket.once('finish', () => socket.destroy());
  socket.end(clientErrorResponse(error));
}
