/** Inbound frame validation (protocol.md §3.3–3.9). STUB: replaced by the full implementation. */
import type { ChatBody, ClientFrame, TextBody } from './frames';
import type { Limits } from './limits';

/** One validation error in FastAPI/pydantic shape (used for HTTP 422 bodies and uncompliant texts). */
export interface FieldError {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

export type FrameResult = { ok: true; frame: ClientFrame } | { ok: false; reason: string };

/** Parses and validates one inbound text frame. Never throws. */
export function parseFrame(text: string, limits: Limits): FrameResult {
  void text; void limits;
  throw new Error('not implemented');
}

/** Validates the body of PUT /channel/{channel}/text. */
export function validateTextBody(raw: unknown, limits: Limits): { ok: true; body: TextBody } | { ok: false; errors: FieldError[] } {
  void raw; void limits;
  throw new Error('not implemented');
}

export type { ChatBody };
