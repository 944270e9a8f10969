/**
 * Locates a JSON syntax error the way Python's `json.loads` reports it, for FastAPI's `json_invalid` 422
 * (protocol.md §2.1): V8's messages name no position for some errors and quote the whole input.
 * Only called after JSON.parse failed. NaN/Infinity (accepted by Python) are refused like V8 does.
 */
export interface JsonSyntaxError {
  /** Offset in Unicode code points, as Python counts it. */
  pos: number;
  /** Python's message, e.g. "Expecting value". */
  msg: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
const LITERALS = ['null', 'true', 'false'];
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX4 = /^[0-9a-fA-F]{4}$/;

class Found {
  constructor(readonly unit: number, readonly msg: string) {}
}

function skipWs(s: string, i: number): number {
  while (i < s.length) {
    const c = s[i];
    if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') break;
    i++;
  }
  return i;
}

/** Index just after the closing quote of a string whose opening quote is at `quote`. */
function scanString(s: string, quote: number): number {
  let i = quote + 1;
  for (;;) {
    if (i >= s.length) throw new Found(quote, 'Unterminated string starting at');
    const c = s[i]!;
    if (c === '"') return i + 1;
    if (c < ' ') throw new Found(i, 'Invalid control character at');
    if (c !== '\\') {
      i++;
      continue;
    }
    const e = s[i + 1];
    if (e === undefined) throw new Found(quote, 'Unterminated string starting at');
    if (e === 'u') {
      if (i + 6 >= s.length || !HEX4.test(s.slice(i + 2, i + 6))) throw new Found(i + 1, 'Invalid \\uXXXX escape');
      i += 6;
    } else if (ESCAPES.has(e)) {
      i += 2;
    } else {
      throw new Found(i, 'Invalid \\escape');
    }
  }
}

/** Index just after the literal or number starting at `i`. */
function scanScalar(s: string, i: number): number {
  for (const lit of LITERALS) if (s.startsWith(lit, i)) return i + lit.length;
  NUMBER.lastIndex = i;
  if (NUMBER.test(s)) return NUMBER.lastIndex;
  throw new Found(i, 'Expecting value');
}

/** Index after `"key" :` and the blanks that follow, starting at the key's quote. */
function scanKey(s: string, i: number): number {
  if (s[i] !== '"') throw new Found(i, 'Expecting property name enclosed in double quotes');
  const j = skipWs(s, scanString(s, i));
  if (s[j] !== ':') throw new Found(j, "Expecting ':' delimiter");
  return skipWs(s, j + 1);
}

/** Iterative, so deeply nested input cannot overflow the stack. */
function scan(s: string): void {
  const open: ('{' | '[')[] = [];
  let i = skipWs(s, 0);
  for (;;) {
    // A value is expected at i.
    let end: number;
    const c = s[i];
    if (c === '"') {
      end = scanString(s, i);
    } else if (c === '{' || c === '[') {
      const j = skipWs(s, i + 1);
      if (s[j] === (c === '{' ? '}' : ']')) {
        end = j + 1;
      } else {
        open.push(c);
        i = c === '{' ? scanKey(s, j) : j;
        continue;
      }
    } else {
      end = scanScalar(s, i);
    }
    // Close finished containers, then find where the next value starts.
    for (;;) {
      const top = open.at(-1);
      const j = skipWs(s, end);
      if (top === undefined) {
        if (j !== s.length) throw new Found(j, 'Extra data');
        return;
      }
      if (s[j] === (top === '{' ? '}' : ']')) {
        open.pop();
        end = j + 1;
        continue;
      }
      if (s[j] !== ',') throw new Found(j, "Expecting ',' delimiter");
      const k = skipWs(s, j + 1);
      i = top === '{' ? scanKey(s, k) : k;
      break;
    }
  }
}

function codePoints(s: string, units: number): number {
  let n = 0;
  for (let i = 0; i < units; i++) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff && i + 1 < units) i++;
    n++;
  }
  return n;
}

/** Python's position and message for the first syntax error of `text`; "Expecting value" at 0 if none is found. */
export function locateJsonError(text: string): JsonSyntaxError {
  try {
    scan(text);
  } catch (err) {
    if (err instanceof Found) return { pos: codePoints(text, err.unit), msg: err.msg };
    throw err;
  }
  return { pos: 0, msg: 'Expecting value' };
}
