import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { sendDetail, sendPlain } from './json';

export const notFound: RequestHandler = (_req, res) => {
  sendDetail(res, 404, 'Not Found');
};

function clientStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * Last middleware. Client errors raised by express itself become FastAPI-shaped JSON: a path parameter with
 * malformed percent-encoding (router raises a 400 URIError) is answered 404 like any unknown path. Anything
 * else is our fault: logged once, 500 `Internal Server Error` as text/plain, as gischat answers.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const status = clientStatus(err);
    if (status !== undefined && !res.headersSent) {
      log.debug({ err, method: req.method, path: req.path }, 'request refused');
      if (err instanceof URIError || status === 404) sendDetail(res, 404, 'Not Found');
      else sendDetail(res, status, STATUS_CODES[status] ?? 'Bad Request');
      return;
    }
    log.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendPlain(res, 500, 'Internal Server Error');
  };
}
