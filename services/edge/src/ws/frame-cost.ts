/**
 * What an inbound frame may cost before it is parsed. Only image, geojson, model and script messages can be big;
 * a bigger frame of any other type (or whose type cannot be found cheaply) is refused by its size alone, so a
 * 16 MB frame never holds the event loop in JSON.parse and validation for nothing.
 */
import type { Limits } from '@qchat/protocol';

/** Frames up to this size are parsed whatever they hold: no small type comes near it (crs_wkt ≤ 16,000 × 6 bytes). */
export const SMALL_FRAME_BYTES = 256 * 1024;
const PEEK_BYTES = 4096;
/** Room for the other fields of a big message: keys, author, avatar, crs, layer name. */
const OVERHEAD_BYTES = 64 * 1024;
/** A character can take 6 bytes in JSON (`\uXXXX`, as Python's json.dumps writes anything non-ASCII). */
const ESCAPED = 6;

export type BigType = 'image' | 'geojson' | 'model' | 'script';
const BIG: ReadonlySet<string> = new Set<BigType>(['image', 'geojson', 'model', 'script']);

/** Largest frame a message of this type can be, within the configured limits. */
export function frameCap(type: BigType, limits: Limits): number {
  switch (type) {
    case 'image': return limits.maxImageRawLength + OVERHEAD_BYTES;
    case 'geojson': return limits.maxGeojsonBytes + ESCAPED * (limits.maxStyleLength + limits.maxCrsWktLength) + OVERHEAD_BYTES;
    case 'model': return ESCAPED * limits.maxModelRawLength + OVERHEAD_BYTES;
    case 'script': return ESCAPED * limits.maxScriptRawLength + OVERHEAD_BYTES;
  }
}

/**
 * The value of the top-level "type" key when it is found among the first bytes (a scan that tracks nesting and
 * skips strings), or as the very last key. Null otherwise: clients write it first (or last).
 */
export function peekType(buf: Buffer): string | null {
  const head = buf.toString('latin1', 0, Math.min(buf.length, PEEK_BYTES));
  let depth = 0;
  for (let i = 0; i < head.length; i++) {
    const c = head[i];
    if (c === '"') {
      const start = i;
      for (i++; i < head.length && head[i] !== '"'; i++) if (head[i] === '\\') i++;
      if (depth === 1 && head.slice(start, i + 1) === '"type"') {
        const m = /^\s*:\s*"([a-z_]{1,16})"/.exec(head.slice(i + 1, i + 40));
        if (m) return m[1]!;
      }
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  const tail = buf.toString('latin1', Math.max(0, buf.length - 64));
  return /[,{]\s*"type"\s*:\s*"([a-z_]{1,16})"\s*}\s*$/.exec(tail)?.[1] ?? null;
}

/** Null when the frame may be parsed; else the reason it is refused unparsed. */
export function precheck(buf: Buffer, limits: Limits): string | null {
  if (buf.length <= SMALL_FRAME_BYTES) return null;
  const type = peekType(buf);
  if (type === null || !BIG.has(type)) {
    return `Frame too large (${buf.length} bytes): only image, geojson, model and script messages may exceed ${SMALL_FRAME_BYTES} bytes`;
  }
  const cap = frameCap(type as BigType, limits);
  if (buf.length > cap) return `Frame too large for a '${type}' message (${buf.length} bytes, at most ${cap})`;
  return null;
}
