/**
 * Requests Node's HTTP parser cannot read (a NUL in the URL, an invalid header line,
 * a bad Content-Length, headers past the size limit, a request that did not arrive
 * in time) never reach Fastify's routes or error handler: the server's 'clientError'
 * event answers them. Fastify's default handler wrote its own body
 * ({"error":"Bad Request","message":"Client Error"}); this one writes Runnel's error
 * shape with a catalogue code, then closes the connection (its framing cannot be trusted).
 */
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorCatalogue, RunnelError, type ErrorCode } from '../errors.js';

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

/*
 * Two more answers Node wrote itself, with no body (found by the adversarial suite,
 * test/adversarial/raw-framing.test.ts):
 * - an HTTP/1.1 request without a Host header got a bare 400 from Node's
 *   requireHostHeader check. That check is off (app.ts) and refuseWithoutHost answers
 *   400 INVALID_REQUEST instead, as RFC 9112 section 3.2 asks;
 * - an Expect other than 100-continue got a bare 417. RFC 9110 section 10.1.1 lets a
 *   server ignore an expectation it does not know, so such a request is served as if
 *   it had none.
 */

/** An onRequest check: an HTTP/1.1 request must name its Host (refused, and the connection closed, as Node did). */
export function refuseWithoutHost(request: FastifyRequest, reply: FastifyReply): void {
  if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
    reply.header('connection', 'close');
    throw new RunnelError('INVALID_REQUEST', 'an HTTP/1.1 request needs a Host header');
  }
}

/** Serves requests whose Expect names anything but 100-continue (Node answered them 417). */
export function serveUnknownExpectations(server: Server): void {
  server.on('checkExpectation', (request, response) => server.emit('request', request, response));
}
