import sharp from 'sharp';
import { reasons } from '@qchat/protocol';

export type ImageResult =
  | { ok: true; data: string; width: number; height: number; bytesIn: number; bytesOut: number }
  | { ok: false; reason: string };

/** Same ceiling as Pillow's decompression-bomb error (2 × 89,478,485 pixels): libvips' own check, a backstop. */
export const MAX_INPUT_PIXELS = 178_956_970;

/**
 * What an image may cost before a byte of it is decoded, read from its header (sharp's metadata() parses headers
 * only). A 48-megapixel phone photo passes; a 10000×10000 GIF of 90 KB (400 MB once decoded), a 13000×13000
 * WebP canvas, or a file announcing thousands of frames does not. GIF decoders hold a whole frame, so GIFs get
 * a smaller budget than formats libvips decodes in strips or shrinks while loading (JPEG, WebP).
 */
export interface DecodeLimits {
  /** Largest width × height of a still picture. */
  maxPixels: number;
  /** Largest width × height of a GIF. */
  maxGifPixels: number;
  /** Most frames (pages) a file may announce; only the first is ever decoded. */
  maxFrames: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({ maxPixels: 50_000_000, maxGifPixels: 16_000_000, maxFrames: 1_000 });

/** Why a header was refused, or null when the image may be decoded. */
export function headerProblem(meta: { format?: string; width?: number; height?: number; pages?: number }, limits: DecodeLimits): string | null {
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels <= 0) return 'no size in header';
  const max = meta.format === 'gif' ? limits.maxGifPixels : limits.maxPixels;
  if (pixels > max) return `${meta.width}×${meta.height} is over ${max} pixels`;
  if ((meta.pages ?? 1) > limits.maxFrames) return `${meta.pages} frames, over ${limits.maxFrames}`;
  return null;
}

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
 * MAX_INPUT_PIXELS, shrink to fit a square box of maxSize, convert to sRGB, re-encode as the smallest lossless PNG
 * (see encodePng), return standard base64. Palette inputs (palette PNG, GIF) are shrunk with nearest neighbour, as
 * Pillow (gischat) does, so they keep their colours and stay palette images. EXIF orientation is deliberately not
 * applied (gischat parity). Never throws: any failure gives { ok: false, reason: 'Invalid or oversized image data.' }.
 */
export async function transformImage(base64: string, maxSize: number, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<ImageResult> {
  const input = decodeStrictBase64(base64);
  if (input === null || input.length === 0) return invalid();
  try {
    // animated: false reads only the first page/frame; failOn 'error' also refuses truncated files.
    const image = sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error', animated: false });
    const meta = await image.metadata();
    if (!ACCEPTED_FORMATS.has(meta.format)) return invalid();
    const problem = headerProblem(meta, limits);
    if (problem !== null) return { ok: false, reason: reasons.imageTooLarge(problem) };
    const size = fitInside(meta.width, meta.height, maxSize);
    if (size.width !== meta.width || size.height !== meta.height) {
      image.resize({ width: size.width, height: size.height, fit: 'fill', kernel: meta.isPalette ? 'nearest' : 'lanczos3' });
    }
    // sRGB output converts CMYK, 16-bit, Lab… (sharp uses its CMYK profile when none is embedded); metadata is dropped.
    const pixels = await image.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const { width, height } = pixels.info;
    const data = await encodePng(pixels.data, width, height, pixels.info.channels);
    return { ok: true, data: data.toString('base64'), width, height, bytesIn: input.length, bytesOut: data.length };
  } catch {
    // Decoder errors are the client's bad data, not our fault: the caller answers `uncompliant` and counts it.
    return invalid();
  }
}

/** libvips keeps recently decoded images in a cache; every image here is new, so it only holds memory. */
export function configureImageDecoder(): void {
  sharp.cache(false);
}

type Channels = 1 | 2 | 3 | 4;

/**
 * zlib level of the adaptively filtered truecolour/greyscale PNG (photos). On an 800×600 photo (bench/png): level 6
 * is ~1–2 % larger than Pillow's output, 7 matches 9 within 0.02 % at ~1.25× level 6's time, 9 takes ~3× level 6's.
 */
export const PNG_COMPRESSION_LEVEL = 7;
/** zlib level of the unfiltered and palette PNGs (flat content): 9 saves ~15 % over 6 on a screenshot, in ~40 ms. */
export const PNG_FLAT_COMPRESSION_LEVEL = 9;

/**
 * The smallest lossless PNG of 8-bit sRGB pixels (3 or 4 channels) among a few encodings: alpha dropped when every
 * pixel is opaque, greyscale when every pixel has R = G = B; adaptive row filtering (best for photos); for images
 * with few colours (screenshots, maps: at most one distinct colour per 8 pixels) also unfiltered rows, which
 * deflate better there; and with at most 256 colours a palette PNG, kept only if it decodes back to exactly the
 * same pixels.
 */
export async function encodePng(pixels: Buffer, width: number, height: number, channels: number): Promise<Buffer> {
  const packed = pack(pixels, width * height, channels);
  const raw = { width, height, channels: packed.channels };
  const fewColours = Math.max(256, (width * height) >> 3);
  const colours = countColours(packed.data, packed.channels, fewColours);
  // Without toColourspace('b-w') sharp would write one grey channel back as three.
  const space = packed.channels <= 2 ? 'b-w' : 'srgb';
  const truecolour = (adaptiveFiltering: boolean) =>
    sharp(packed.data, { raw })
      .toColourspace(space)
      .png({ compressionLevel: adaptiveFiltering ? PNG_COMPRESSION_LEVEL : PNG_FLAT_COMPRESSION_LEVEL, adaptiveFiltering })
      .toBuffer();
  const candidates: Array<Promise<Buffer | null>> = [truecolour(true)];
  if (colours <= fewColours) candidates.push(truecolour(false));
  if (colours <= 256) {
    const palette = sharp(packed.data, { raw })
      // libimagequant at quality 100 without dithering keeps every colour when the palette can hold them all
      // (checked below anyway).
      .png({ palette: true, colours: paletteSize(colours), quality: 100, dither: 0, effort: 10, compressionLevel: PNG_FLAT_COMPRESSION_LEVEL })
      .toBuffer();
    candidates.push(palette.then(async (png) => ((await samePixels(png, packed.data, packed.channels)) ? png : null)));
  }
  const encoded = (await Promise.all(candidates)).filter((png): png is Buffer => png !== null);
  return encoded.reduce((best, png) => (png.length < best.length ? png : best));
}

/** Drops an all-opaque alpha channel and folds R = G = B into one grey channel; both lossless. */
function pack(pixels: Buffer, count: number, channels: number): { data: Buffer; channels: Channels } {
  const hasAlpha = channels === 4;
  let opaque = hasAlpha;
  let grey = true;
  for (let i = 0; i < count && (opaque || grey); i++) {
    const p = i * channels;
    if (hasAlpha && pixels[p + 3] !== 255) opaque = false;
    if (pixels[p] !== pixels[p + 1] || pixels[p] !== pixels[p + 2]) grey = false;
  }
  const keepAlpha = hasAlpha && !opaque;
  const out = ((grey ? 1 : 3) + (keepAlpha ? 1 : 0)) as Channels;
  if (out === channels) return { data: pixels, channels: out };
  const data = Buffer.allocUnsafe(count * out);
  for (let i = 0, p = 0, q = 0; i < count; i++, p += channels) {
    data[q++] = pixels[p]!;
    if (!grey) {
      data[q++] = pixels[p + 1]!;
      data[q++] = pixels[p + 2]!;
    }
    if (keepAlpha) data[q++] = pixels[p + 3]!;
  }
  return { data, channels: out };
}

/** Distinct pixel values, counting stops past `limit`. */
function countColours(data: Buffer, channels: Channels, limit: number): number {
  const seen = new Set<number>();
  const count = data.length / channels;
  for (let i = 0, p = 0; i < count; i++, p += channels) {
    let key = data[p]!;
    for (let c = 1; c < channels; c++) key = key * 256 + data[p + c]!;
    if (!seen.has(key)) {
      seen.add(key);
      if (seen.size > limit) return seen.size;
    }
  }
  return seen.size;
}

/**
 * Palette size to ask sharp for: it derives the PNG bit depth from it, correctly only for 2, 4, 16 and 256 entries
 * (sharp 0.34 gives e.g. 100 colours 4 bits, which cannot hold them), so ask for the next of those.
 */
function paletteSize(colours: number): number {
  return colours <= 2 ? 2 : colours <= 4 ? 4 : colours <= 16 ? 16 : 256;
}

/** Decodes a PNG and compares it with the expected 8-bit pixels (1–4 channels, grey/grey+alpha/RGB/RGBA). */
async function samePixels(png: Buffer, expected: Buffer, channels: Channels): Promise<boolean> {
  const grey = channels <= 2;
  const alpha = channels === 2 || channels === 4;
  const decoded = sharp(png).toColourspace('srgb');
  const { data, info } = await (alpha ? decoded.ensureAlpha() : decoded.removeAlpha()).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const count = expected.length / channels;
  if (data.length !== count * info.channels) return false;
  for (let i = 0, p = 0, q = 0; i < count; i++, p += channels, q += info.channels) {
    for (let c = 0; c < 3; c++) if (data[q + c] !== expected[p + (grey ? 0 : c)]) return false;
    if (alpha && data[q + 3] !== expected[p + channels - 1]) return false;
  }
  return true;
}

function invalid(): ImageResult {
  return { ok: false, reason: reasons.invalidImage };
}
