import sharp from 'sharp';
import { reasons } from '@qchat/protocol';

export type ImageResult =
  | { ok: true; data: string; width: number; height: number; bytesIn: number; bytesOut: number }
  | { ok: false; reason: string };

/** Same ceiling as Pillow's decompression-bomb error (2 × 89,478,485 pixels), checked on the header before decoding. */
export const MAX_INPUT_PIXELS = 178_956_970;

/**
 * Raster formats accepted as input. SVG is refused on purpose: gischat (Pillow) never read it, and rasterising
 * client-supplied XML is a much larger attack surface than decoding a bitmap.
 */
const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Strict standard base64: alphabet A–Z a–z 0–9 + /, padding required, no whitespace or prefix.
 * Returns null when the string is not exactly that. Linear in the input (one anchored regex + one decode).
 */
export function decodeStrictBase64(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !BASE64.test(s)) return null;
  const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(s, 'base64');
  // Defensive: regex + length already imply this size; Node's lenient decoder must agree with the strict reading.
  return bytes.length === (s.length / 4) * 3 - padding ? bytes : null;
}

/** Size that fits a maxSize × maxSize box keeping the aspect ratio; never enlarges; other side rounded to nearest. */
export function fitInside(width: number, height: number, maxSize: number): { width: number; height: number } {
  if (width <= maxSize && height <= maxSize) return { width, height };
  if (width >= height) return { width: maxSize, height: Math.max(1, Math.round((height * maxSize) / width)) };
  return { width: Math.max(1, Math.round((width * maxSize) / height)), height: maxSize };
}

/**
 * Strict base64 decode, sniff any accepted raster format (first frame only for animations), refuse more than
 * MAX_INPUT_PIXELS, shrink to fit a square box of maxSize, convert to sRGB, re-encode as PNG, return standard
 * base64. EXIF orientation is deliberately not applied (gischat parity). Never throws: any failure gives
 * { ok: false, reason: 'Invalid or oversized image data.' }.
 */
export async function transformImage(base64: string, maxSize: number): Promise<ImageResult> {
  const input = decodeStrictBase64(base64);
  if (input === null || input.length === 0) return invalid();
  try {
    // animated: false reads only the first page/frame; failOn 'error' also refuses truncated files.
    const image = sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', animated: false });
    const meta = await image.metadata();
    if (!ACCEPTED_FORMATS.has(meta.format)) return invalid();
    const size = fitInside(meta.width, meta.height, maxSize);
    if (size.width !== meta.width || size.height !== meta.height) {
      image.resize({ width: size.width, height: size.height, fit: 'fill' });
    }
    // sRGB output converts CMYK, 16-bit, Lab… (sharp uses its CMYK profile when none is embedded); metadata is dropped.
    const { data, info } = await image.toColourspace('srgb').png().toBuffer({ resolveWithObject: true });
    const { width, height } = info;
    return { ok: true, data: data.toString('base64'), width, height, bytesIn: input.length, bytesOut: data.length };
  } catch {
    // Decoder errors are the client's bad data, not our fault: the caller answers `uncompliant` and counts it.
    return invalid();
  }
}

function invalid(): ImageResult {
  return { ok: false, reason: reasons.invalidImage };
}
