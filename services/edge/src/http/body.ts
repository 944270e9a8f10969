import type { IncomingMessage } from 'node:http';
import type { FieldError } from '@qchat/protocol';
import { locateJsonError } from './json-error';

export type RawBody = { ok: true; bytes: Buffer } | { ok: false; tooLarge: true };

/**
 * Reads the whole request body, stopping at `limit` bytes (declared or streamed). When the limit is passed the
 * rest is discarded so the connection stays usable. Rejects if the client aborts.
 */
export function readRawBody(req: IncomingMessage, limit: number): Promise<RawBody> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve({ ok: false, tooLarge: true });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        resolve({ ok: false, tooLarge: true });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve({ ok: true, bytes: Buffer.concat(chunks, size) });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new Error('request aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The outcome of decoding a JSON body as FastAPI does, before any model validation. */
export type DecodedBody =
  | { ok: true; value: unknown }
  | { ok: false; status: 400; detail: string }
  | { ok: false; status: 422; detail: FieldError[] };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Empty body → `missing` at ["body"]; bytes that are not UTF-8 → 400 (FastAPI's generic parse failure);
 * bad JSON → `json_invalid` at ["body", <code point offset>] with Python's message in ctx.error.
 * The content type is not checked: bots may omit it.
 */
export function decodeJsonBody(bytes: Buffer): DecodedBody {
  if (bytes.length === 0) {
    return { ok: false, status: 422, detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }] };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, status: 400, detail: 'There was an error parsing the body' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    const { pos, msg } = locateJsonError(text);
    return {
      ok: false,
      status: 422,
      detail: [{ type: 'json_invalid', loc: ['body', pos], msg: 'JSON decode error', input: {}, ctx: { error: msg } }],
    };
  }
}
