import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { isOutage } from '@qchat/protocol';
import { OutageLog } from '@qchat/runtime';
import { sendDetail } from './json';

export const notFound: RequestHandler = (_req, res) => {
  sendDetail(res, 404, 'Not Found');
};

function clientStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}


/**
 * Last middleware; every answer is FastAPI-shaped JSON `{"detail": …}`. Client errors raised by express itself
 * keep their status: a path parameter with malformed percent-encoding (router raises a 400 URIError) is answered
 * 404 like any unknown path. A backend that cannot answer (presence or relay down, Redis or NATS away) is a 503,
 * logged once when the outage starts and once when it ends. Anything else is our fault: logged, 500.
 */
export function errorHandling(log: Logger): { track: RequestHandler; handler: ErrorRequestHandler } {
  const outage = new OutageLog(log, 'presence or relay (HTTP API)');
  /** First middleware: a request answered below 500 ends an outage. */
  const track: RequestHandler = (_req, res, next) => {
    res.once('finish', () => { if (res.statusCode < 500) outage.succeeded(); });
    next();
  };
  const handler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
    const status = clientStatus(err);
    if (status !== undefined && !res.headersSent) {
      log.debug({ err, method: req.method, path: req.path }, 'request refused');
      if (err instanceof URIError || status === 404) sendDetail(res, 404, 'Not Found');
      else sendDetail(res, status, STATUS_CODES[status] ?? 'Bad Request');
      return;
    }
    const unavailable = isOutage(err);
    if (unavailable) outage.failed(err, { method: req.method, path: req.path });
    else log.error({ err, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (unavailable) {
      res.setHeader('Retry-After', '1');
      sendDetail(res, 503, 'Service temporarily unavailable, try again');
    } else {
      sendDetail(res, 500, 'Internal Server Error');
    }
  };
  return { track, handler };
}
