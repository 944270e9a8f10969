/**
 * Field rules of the gischat models (protocol.md §3.3–3.4), pydantic-flavoured: each check records at most one
 * error per field and returns a placeholder on failure, so a model reports every failing field at once.
 */
import type { Limits } from './limits';
import { memberSource, rawJson, type RawJson } from './json-source';
import { fieldError, GISCHAT_NICKNAME_PATTERN, type FieldError, type Loc } from './validate-errors';

const NICKNAME = /^[A-Za-z0-9_-]+$/;
/** Unambiguous (linear) numeric grammar; the length cap bounds the work anyway. */
const FLOAT_STRING = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const INT_STRING = /^\s*[+-]?\d+(?:\.0*)?\s*$/;
const MAX_NUMERIC_STRING = 256;
const HEX32 = /^[0-9a-fA-F]{32}$/;
const MAX_UUID_STRING = 64;

/** True when s has more than max code points. Counts only when the UTF-16 length allows it, and stops early. */
export function hasMoreCodePoints(s: string, max: number): boolean {
  if (s.length <= max) return false;
  if (Math.ceil(s.length / 2) > max) return true;
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) i++;
    if (++count > max) return true;
  }
  return false;
}

/** True when s has fewer than min code points. */
export function hasFewerCodePoints(s: string, min: number): boolean {
  if (s.length >= 2 * min) return false;
  if (s.length < min) return true;
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    if (isHigh(s.charCodeAt(i)) && isLow(s.charCodeAt(i + 1))) i++;
    count++;
  }
  return count < min;
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/**
 * A UUID in any form Python's uuid.UUID(str) accepts (hyphens anywhere, any case, braces, `urn:uuid:` prefix),
 * as canonical lower-case hyphenated text; else the reason it is not one.
 */
export function parseUuid(s: string): { uuid: string } | { error: string } {
  if (s.length > MAX_UUID_STRING) return { error: `invalid length: expected 32 hexadecimal digits, found ${s.length} characters` };
  const hex = s.replaceAll('urn:', '').replaceAll('uuid:', '').replace(/^[{}]+|[{}]+$/g, '').replaceAll('-', '');
  if (!HEX32.test(hex)) {
    const bad = /[^0-9a-fA-F]/.exec(hex);
    if (bad) return { error: `invalid character: expected an optional prefix of \`urn:uuid:\` followed by [0-9a-fA-F-], found \`${bad[0]}\`` };
    return { error: `invalid length: expected 32 hexadecimal digits, found ${hex.length}` };
  }
  const h = hex.toLowerCase();
  return { uuid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` };
}

/** Reads and checks the fields of one object; errors accumulate in `errors` with `prefix` before each loc. */
export class Fields {
  readonly errors: FieldError[] = [];

  /** @param source the JSON text the object was parsed from, when known (cheap size bounds). */
  constructor(
    readonly obj: Record<string, unknown>,
    readonly limits: Limits,
    private readonly prefix: Loc = [],
    private readonly source?: string,
  ) {}

  get(key: string): unknown {
    return Object.hasOwn(this.obj, key) ? this.obj[key] : undefined;
  }

  loc(...path: (string | number)[]): Loc {
    return [...this.prefix, ...path];
  }

  fail(error: FieldError): void {
    this.errors.push(error);
  }

  /** Required string of at most `max` code points. */
  str(key: string, max: number): string {
    const v = this.get(key);
    if (v === undefined) return this.miss(key, '');
    return this.checkStr(key, v, max) ?? '';
  }

  /** Optional string or null of at most `max` code points; missing → null. */
  optStr(key: string, max: number): string | null {
    const v = this.get(key);
    if (v === undefined || v === null) return null;
    return this.checkStr(key, v, max);
  }

  /** Nickname rule: a string of MIN..MAX code points matching [A-Za-z0-9_-]+, nothing trailing. */
  nick(key: string): string {
    const v = this.get(key);
    if (v === undefined) return this.miss(key, '');
    if (typeof v !== 'string') return this.bad(fieldError.stringType(this.loc(key), v), '');
    const { minAuthorLength: min, maxAuthorLength: max } = this.limits;
    if (hasFewerCodePoints(v, min)) return this.bad(fieldError.tooShort(this.loc(key), v, min), '');
    if (hasMoreCodePoints(v, max)) return this.bad(fieldError.tooLong(this.loc(key), v, max), '');
    if (!NICKNAME.test(v)) return this.bad(fieldError.pattern(this.loc(key), v, GISCHAT_NICKNAME_PATTERN), '');
    return v;
  }

  /** Required finite number: a JSON number or a numeric string (converted); booleans refused. */
  num(key: string): number {
    const v = this.get(key);
    if (v === undefined) return this.miss(key, Number.NaN);
    let n: number;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string') {
      if (v.length > MAX_NUMERIC_STRING || !FLOAT_STRING.test(v)) return this.bad(fieldError.floatParsing(this.loc(key), v), Number.NaN);
      n = Number(v);
    } else return this.bad(fieldError.floatType(this.loc(key), v), Number.NaN);
    if (!Number.isFinite(n)) return this.bad(fieldError.finite(this.loc(key), v), Number.NaN);
    return n;
  }

  /** Optional integer (envelope `timestamp`): integral number or integer string; the value is not kept. */
  optInt(key: string): void {
    const v = this.get(key);
    if (v === undefined) return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) this.fail(fieldError.finite(this.loc(key), v));
      else if (!Number.isInteger(v)) this.fail(fieldError.intFromFloat(this.loc(key), v));
    } else if (typeof v === 'string') {
      if (v.length > MAX_NUMERIC_STRING || !INT_STRING.test(v)) this.fail(fieldError.intParsing(this.loc(key), v));
    } else this.fail(fieldError.intType(this.loc(key), v));
  }

  /** Optional UUID; missing → null, null → null only when `nullable`. Returns the canonical form. */
  optUuid(key: string, nullable: boolean): string | null {
    const v = this.get(key);
    if (v === undefined || (v === null && nullable)) return null;
    if (typeof v !== 'string') return this.bad(fieldError.uuidType(this.loc(key), v), null);
    const parsed = parseUuid(v);
    if ('error' in parsed) return this.bad(fieldError.uuidParsing(this.loc(key), v, parsed.error), null);
    return parsed.uuid;
  }

  /**
   * Required GeoJSON object: a dict whose `features` is an array, whose text is at most maxGeojsonBytes long. Kept
   * as its source text (see json-source.ts), so every number reaches the other clients in the form it was sent.
   */
  geojson(key: string): RawJson {
    const none = rawJson('{}');
    const v = this.get(key);
    if (v === undefined) return this.miss(key, none);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return this.bad(fieldError.dictType(this.loc(key), v), none);
    const obj = v as Record<string, unknown>;
    const features = Object.hasOwn(obj, 'features') ? obj.features : undefined;
    if (features === undefined) return this.bad(fieldError.missing(this.loc(key, 'features'), obj), none);
    if (!Array.isArray(features)) return this.bad(fieldError.listType(this.loc(key, 'features'), features), none);
    const text = (this.source !== undefined && this.prefix.length === 0 ? memberSource(this.source, key) : undefined) ?? JSON.stringify(obj);
    if (text.length > this.limits.maxGeojsonBytes) return this.bad(fieldError.tooLarge(this.loc(key), obj, this.limits.maxGeojsonBytes), none);
    return rawJson(text);
  }

  private checkStr(key: string, v: unknown, max: number): string | null {
    if (typeof v !== 'string') return this.bad(fieldError.stringType(this.loc(key), v), null);
    if (hasMoreCodePoints(v, max)) return this.bad(fieldError.tooLong(this.loc(key), v, max), null);
    return v;
  }

  private miss<T>(key: string, placeholder: T): T {
    this.fail(fieldError.missing(this.loc(key), this.obj));
    return placeholder;
  }

  private bad<T>(error: FieldError, placeholder: T): T {
    this.fail(error);
    return placeholder;
  }
}
