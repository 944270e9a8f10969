/**
 * Inbound validation (protocol.md §3.3–3.9): one WebSocket text frame, or the body of PUT /channel/{c}/text.
 * Inbound `id`/`timestamp` are checked, never kept: the server stamps its own (§6 D7).
 */
import { MESSAGE_TYPES, reasons, type ClientFrame, type MessageType, type TextBody } from './frames';
import type { Limits } from './limits';
import { expectedChoices, fieldError, formatValidationErrors, type FieldError } from './validate-errors';
import { Fields } from './validate-fields';
import { parseJson } from './validate-json';
import { BASE_MODEL, MODELS, textModel } from './validate-models';

export { formatValidationErrors, GISCHAT_NICKNAME_PATTERN, type FieldError } from './validate-errors';
export { hasFewerCodePoints, hasMoreCodePoints, parseUuid } from './validate-fields';
export { exceedsDepth } from './validate-json';

/** `clientId`: the frame's own `id` when it sent one (canonical form); never the broadcast id (§6 D7). */
export type FrameResult = { ok: true; frame: ClientFrame; clientId?: string } | { ok: false; reason: string };

const TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);
const EXPECTED_TYPES = expectedChoices(MESSAGE_TYPES);

/** Parses and validates one inbound WebSocket text frame. Never throws, whatever the input. */
export function parseFrame(text: string, limits: Limits): FrameResult {
  const parsed = parseJson(text, limits.maxGeojsonDepth);
  if (!parsed.ok) return reject(BASE_MODEL, [parsed.error]);
  const raw = parsed.value;
  if (!isObject(raw)) return reject(BASE_MODEL, [fieldError.modelType([], raw, BASE_MODEL)]);

  const f = new Fields(raw, limits, [], text);
  const type = f.get('type');
  if (!isMessageType(type)) {
    f.fail(type === undefined ? fieldError.missing(['type'], raw) : fieldError.literal(['type'], type, EXPECTED_TYPES));
    checkEnvelope(f);
    return reject(BASE_MODEL, f.errors);
  }
  const clientId = checkEnvelope(f);
  const model = MODELS[type];
  const frame = model.build(f);
  if (f.errors.length > 0) return reject(model.name, f.errors);
  if (frame.type === 'geojson') {
    const count = ((raw.geojson as { features: unknown[] }).features).length;
    if (count > limits.maxGeojsonFeatures) return { ok: false, reason: reasons.tooManyFeatures(count, limits.maxGeojsonFeatures) };
  }
  return clientId === null ? { ok: true, frame } : { ok: true, frame, clientId };
}

/**
 * Validates the JSON body of PUT /channel/{channel}/text (already JSON.parsed). loc entries start with "body".
 * `type`, when present, must be "text" (protocol.md §6 D12); missing, it defaults to text.
 */
export function validateTextBody(raw: unknown, limits: Limits): { ok: true; body: TextBody } | { ok: false; errors: FieldError[] } {
  if (raw === undefined || raw === null) return { ok: false, errors: [fieldError.missing(['body'], null)] };
  if (!isObject(raw)) return { ok: false, errors: [fieldError.modelAttributesType(['body'], raw)] };
  const f = new Fields(raw, limits, ['body']);
  const type = f.get('type');
  if (type !== undefined && type !== 'text') f.fail(fieldError.literal(f.loc('type'), type, "'text'"));
  checkEnvelope(f);
  const body = textModel(f);
  return f.errors.length > 0 ? { ok: false, errors: f.errors } : { ok: true, body };
}

function checkEnvelope(f: Fields): string | null {
  const id = f.optUuid('id', false);
  f.optInt('timestamp');
  return id;
}

function isMessageType(v: unknown): v is MessageType {
  return typeof v === 'string' && TYPES.has(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reject(model: string, errors: FieldError[]): FrameResult {
  return { ok: false, reason: formatValidationErrors(model, errors) };
}
