import type { Response } from 'express';

/**
 * The QChat QGIS plugin compares `Content-Type` byte for byte with `application/json` (protocol.md §2.1,
 * §5.4), and express's res.json/res.send append `; charset=utf-8`: every JSON answer goes through here.
 */
export function sendJsonText(res: Response, status: number, json: string): void {
  res.status(status);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(json, 'utf8'));
  res.end(json);
}

export function sendJson(res: Response, status: number, value: unknown): void {
  sendJsonText(res, status, JSON.stringify(value));
}

/** FastAPI's error shape `{"detail": …}`. */
export function sendDetail(res: Response, status: number, detail: unknown): void {
  sendJson(res, status, { detail });
}

export function sendHtml(res: Response, html: string | Buffer): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', typeof html === 'string' ? Buffer.byteLength(html, 'utf8') : html.length);
  res.end(html);
}
