/**
 * Cheap shape guards for internal request bodies (architecture invariant 9: a body from NATS is untrusted input).
 * A guard checks types, not limits: the edge validated the content, the guard keeps a malformed or hostile body
 * from reaching a handler that would read a missing field. `shape<T>` is typed by T: every field of T needs a
 * check of its own type, so a request type that gains a field does not compile until its guard does too.
 */
import type { ChatBody, ChatType } from './frames';
import { isRawJson } from './json-source';

export type Check<T> = (v: unknown) => v is T;

export const str: Check<string> = (v): v is string => typeof v === 'string';
export const num: Check<number> = (v): v is number => typeof v === 'number' && Number.isFinite(v);
export const bool: Check<boolean> = (v): v is boolean => typeof v === 'boolean';

export function literal<L extends string>(...values: L[]): Check<L> {
  return (v): v is L => typeof v === 'string' && values.some((x) => x === v);
}
export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v): v is T | null => v === null || check(v);
}
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v): v is T | undefined => v === undefined || check(v);
}
export function arrayOf<T>(check: Check<T>): Check<T[]> {
  return (v): v is T[] => Array.isArray(v) && v.every((x) => check(x));
}

function field(v: object, key: string): unknown {
  return Object.hasOwn(v, key) ? Reflect.get(v, key) : undefined;
}

/** An object whose listed fields pass their checks (other fields are ignored, as the handlers ignore them). */
export function shape<T>(fields: { [P in keyof T]-?: Check<T[P]> }): Check<T> {
  const list: [string, Check<unknown>][] = Object.entries<Check<unknown>>(fields);
  return (v): v is T => typeof v === 'object' && v !== null && !Array.isArray(v) && list.every(([key, check]) => check(field(v, key)));
}

const authored = { author: str, avatar: nullable(str), in_reply_to_id: optional(str) };
const withCrs = { ...authored, crs_wkt: str, crs_authid: str };

/** One guard per content type: the fields relay reads (its transform, stamping and budget). */
const CHAT_BODIES: { [T in ChatType]: Check<Extract<ChatBody, { type: T }>> } = {
  text: shape({ type: literal('text'), ...authored, text: str }),
  image: shape({ type: literal('image'), ...authored, image_data: str }),
  like: shape({ type: literal('like'), liker_author: str, liked_author: str, message: str }),
  geojson: shape({ type: literal('geojson'), ...withCrs, layer_name: str, geojson: isRawJson, style: nullable(str) }),
  crs: shape({ type: literal('crs'), ...withCrs }),
  bbox: shape({ type: literal('bbox'), ...withCrs, xmin: num, xmax: num, ymin: num, ymax: num }),
  position: shape({ type: literal('position'), ...withCrs, x: num, y: num }),
  model: shape({ type: literal('model'), ...authored, model_name: str, model_group: nullable(str), raw_xml: str }),
  script: shape({ type: literal('script'), ...authored, name: str, raw_pycode: str }),
};

const isChatType = (t: unknown): t is ChatType => typeof t === 'string' && Object.hasOwn(CHAT_BODIES, t);

export const chatBody: Check<ChatBody> = (v): v is ChatBody => {
  if (typeof v !== 'object' || v === null) return false;
  const type = field(v, 'type');
  return isChatType(type) && CHAT_BODIES[type](v);
};
