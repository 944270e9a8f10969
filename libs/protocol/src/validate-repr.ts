/**
 * Python-like `repr` of decoded JSON values, as pydantic shows them in error texts (`input_value=…`).
 * Bounded: a 5 MB string or a huge GeoJSON is never walked or copied beyond the characters shown.
 */

const SHOWN = 50;
const HEAD = 25;
const TAIL = 24;

/** Python type name of a decoded JSON value (`input_type=…`). */
export function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  switch (typeof v) {
    case 'string': return 'str';
    case 'boolean': return 'bool';
    case 'number': return Number.isInteger(v) ? 'int' : 'float';
    case 'object': return Array.isArray(v) ? 'list' : 'dict';
    default: return typeof v;
  }
}

/** repr(v) whole when it has at most 50 characters, else its first 25 + '...' + its last 24 (as pydantic-core). */
export function inputValueRepr(v: unknown): string {
  const head = reprHead(v, SHOWN + 1);
  if (head.length <= SHOWN) return head;
  return `${cutHead(head, HEAD)}...${cutTail(reprTail(v, TAIL), TAIL)}`;
}

/** A prefix of repr(v) of length ≥ min(n, |repr(v)|). */
function reprHead(v: unknown, n: number): string {
  if (typeof v === 'string') return strHead(v, n);
  if (typeof v !== 'object' || v === null) return scalarRepr(v);
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ', ';
      out += reprHead(v[i], n - out.length);
      if (out.length >= n) return out;
    }
    return `${out}]`;
  }
  let out = '{';
  let first = true;
  for (const key in v) {
    if (!first) out += ', ';
    first = false;
    out += strHead(key, n - out.length);
    if (out.length >= n) return out;
    out += `: ${reprHead((v as Record<string, unknown>)[key], n - out.length - 2)}`;
    if (out.length >= n) return out;
  }
  return `${out}}`;
}

/** A suffix of repr(v) of length ≥ min(n, |repr(v)|). */
function reprTail(v: unknown, n: number): string {
  if (typeof v === 'string') return strTail(v, n);
  if (typeof v !== 'object' || v === null) return scalarRepr(v);
  if (Array.isArray(v)) {
    let out = ']';
    for (let i = v.length - 1; i >= 0; i--) {
      out = reprTail(v[i], n - out.length) + out;
      if (out.length >= n) return out;
      if (i > 0) out = `, ${out}`;
    }
    return `[${out}`;
  }
  const keys = Object.keys(v);
  let out = '}';
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i] as string;
    out = reprTail((v as Record<string, unknown>)[key], n - out.length) + out;
    if (out.length >= n) return out;
    out = `${strTail(key, n - out.length - 2)}: ${out}`;
    if (out.length >= n) return out;
    if (i > 0) out = `, ${out}`;
  }
  return `{${out}`;
}

function scalarRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'nan';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    return String(v).replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return String(v);
}

function quoteFor(s: string): string {
  return s.includes("'") && !s.includes('"') ? '"' : "'";
}

function strHead(s: string, n: number): string {
  const q = quoteFor(s);
  if (s.length <= n) return q + escape(s, q) + q;
  return q + escape(cutHead(s, Math.max(n, 1)), q);
}

function strTail(s: string, n: number): string {
  const q = quoteFor(s);
  if (s.length <= n) return q + escape(s, q) + q;
  return escape(cutTail(s, Math.max(n, 1)), q) + q;
}

const NEEDS_ESCAPE = /[\\'"\u0000-\u001f\u007f-\u00a0\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\ud800-\udfff]/;

/** Python's str.__repr__ escaping, for the common non-printable characters. */
function escape(s: string, q: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i] as string;
    if (ch === '\\' || ch === q) out += `\\${ch}`;
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || (c >= 0x7f && c <= 0xa0) || c === 0xad) out += `\\x${hex(c, 2)}`;
    else if (c >= 0xd800 && c <= 0xdbff && isLow(s.charCodeAt(i + 1))) out += ch + (s[++i] as string);
    else if ((c >= 0xd800 && c <= 0xdfff) || isInvisible(c)) out += `\\u${hex(c, 4)}`;
    else out += ch;
  }
  return out;
}

function isInvisible(c: number): boolean {
  return (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2064) || c === 0xfeff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function hex(c: number, width: number): string {
  return c.toString(16).padStart(width, '0');
}

/** First n UTF-16 units, one fewer rather than splitting a surrogate pair. */
function cutHead(s: string, n: number): string {
  if (s.length <= n) return s;
  const last = s.charCodeAt(n - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? n - 1 : n);
}

/** Last n UTF-16 units, one fewer rather than splitting a surrogate pair. */
function cutTail(s: string, n: number): string {
  if (s.length <= n) return s;
  const start = s.length - n;
  return s.slice(isLow(s.charCodeAt(start)) ? start + 1 : start);
}
