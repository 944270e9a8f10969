/**
 * Content the server does not transform travels as the client wrote it (architecture invariant 10): a GeoJSON layer
 * keeps `1.0` as `1.0` and `1e3` as `1e3`, where JSON.parse + JSON.stringify would write `1` and `1000` and turn a
 * float column into an integer one in QGIS. The edge validates the parsed object, then keeps the member's source
 * text; the relay writes that text back into the frame untouched.
 */

/** JSON text kept exactly as received. Travels inside internal requests as `{"$json": "<text>"}`. */
export interface RawJson {
  readonly $json: string;
}

export function rawJson(text: string): RawJson {
  return { $json: text };
}

export function isRawJson(v: unknown): v is RawJson {
  return typeof v === 'object' && v !== null && typeof (v as { $json?: unknown }).$json === 'string' && Object.keys(v).length === 1;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/**
 * The source text of the top-level member `key` of `text`, a JSON object that JSON.parse already accepted; the last
 * one when the key repeats (as JSON.parse keeps the last). Undefined when absent or when `text` is not an object.
 * Linear: strings are skipped with indexOf, containers by depth counting.
 */
export function memberSource(text: string, key: string): string | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i = skipSpace(text, i + 1);
  let found: string | undefined;
  while (i < text.length && text.charCodeAt(i) === QUOTE) {
    const keyEnd = stringEnd(text, i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return undefined;
    const start = skipSpace(text, i + 1);
    const end = valueEnd(text, start);
    if (name === key) found = text.slice(start, end);
    i = skipSpace(text, end);
    if (text.charCodeAt(i) !== COMMA) break;
    i = skipSpace(text, i + 1);
  }
  return found;
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Index just past the string starting at `i` (a quote). */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length;
    let slashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** Index just past the value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) j = stringEnd(text, j) - 1;
      else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return j + 1;
    }
    return text.length;
  }
  let j = i;
  for (;;) {
    const d = text.charCodeAt(j);
    if (Number.isNaN(d) || d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) return j;
    j++;
  }
}

/**
 * A float as Python's `json` writes one (`1` → `1.0`), which gischat's float fields (bbox and position coordinates)
 * always are. Non-integral values use JavaScript's shortest round-trip form, as Python's repr does.
 */
export function floatText(n: number): string {
  if (Object.is(n, -0)) return '-0.0';
  const s = String(n);
  return Number.isInteger(n) && !s.includes('e') ? `${s}.0` : s;
}
