import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { rng } from '../../../tests/support/pictures';
import { MAX_INPUT_PIXELS, decodeStrictBase64, encodePng, fitInside, transformImage } from '../src/image';

const REASON = 'Invalid or oversized image data.';
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function solid(width: number, height: number, background = '#3a7') {
  return sharp({ create: { width, height, channels: 3, background } });
}

async function decoded(data: string) {
  const bytes = Buffer.from(data, 'base64');
  expect(bytes.subarray(0, 8).equals(PNG_MAGIC)).toBe(true);
  return { bytes, meta: await sharp(bytes).metadata() };
}

async function expectPng(base64: string, maxSize: number, width: number, height: number) {
  const result = await transformImage(base64, maxSize);
  if (!result.ok) throw new Error(`expected ok, got ${result.reason}`);
  const { meta } = await decoded(result.data);
  expect([result.width, result.height, meta.width, meta.height]).toEqual([width, height, width, height]);
  expect(meta.format).toBe('png');
  return result;
}

/** CRC-32 as used by PNG chunks (zlib.crc32 needs Node ≥ 20.15). */
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A tiny valid PNG whose header declares width × height: the shape of a decompression bomb. */
async function pngDeclaring(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await solid(1, 1).png().toBuffer());
  // Signature (8) + IHDR length (4) + "IHDR" (4) + data (13) + CRC (4).
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

function firstHalf(bytes: Buffer): Buffer {
  return bytes.subarray(0, bytes.length >> 1);
}

describe('transformImage', () => {
  it('shrinks a 1200x800 PNG to 800x533', async () => {
    const input = await solid(1200, 800).png().toBuffer();
    const result = await expectPng(input.toString('base64'), 800, 800, 533);
    expect(result.bytesIn).toBe(input.length);
    expect(result.bytesOut).toBe(Buffer.from(result.data, 'base64').length);
  });

  it('shrinks a portrait 800x1200 JPEG to a 533x800 PNG', async () => {
    const input = await solid(800, 1200).jpeg().toBuffer();
    await expectPng(input.toString('base64'), 800, 533, 800);
  });

  it('never enlarges, but re-encodes a small JPEG as PNG', async () => {
    const input = await solid(100, 50).jpeg().toBuffer();
    await expectPng(input.toString('base64'), 800, 100, 50);
  });

  it('returns standard padded base64 without line breaks', async () => {
    const input = await solid(37, 23).png().toBuffer();
    const result = await expectPng(input.toString('base64'), 800, 37, 23);
    expect(result.data).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(result.data.length % 4).toBe(0);
  });

  it('converts a CMYK JPEG to an sRGB PNG', async () => {
    const input = await solid(120, 80, '#08f').toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(input).metadata()).space).toBe('cmyk');
    const result = await expectPng(input.toString('base64'), 800, 120, 80);
    const { meta } = await decoded(result.data);
    expect(meta.space).toBe('srgb');
  });

  it('keeps only the first frame of an animated GIF', async () => {
    const red = await solid(40, 30, '#f00').png().toBuffer();
    const blue = await solid(40, 30, '#00f').png().toBuffer();
    const gif = await sharp([red, blue], { join: { animated: true } }).gif({ delay: [100, 100] }).toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const result = await expectPng(gif.toString('base64'), 800, 40, 30);
    const { bytes, meta } = await decoded(result.data);
    expect(meta.pages ?? 1).toBe(1);
    const { data } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([data[0], data[1], data[2]]).toEqual([255, 0, 0]);
  });

  it('does not apply EXIF orientation', async () => {
    const input = await solid(300, 100).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(input).metadata()).orientation).toBe(6);
    await expectPng(input.toString('base64'), 800, 300, 100);
  });

  it('refuses a decompression bomb from its header', async () => {
    const bomb = await pngDeclaring(20_000, 20_000);
    expect(bomb.length).toBeLessThan(200);
    expect(await transformImage(bomb.toString('base64'), 800)).toEqual({ ok: false, reason: REASON });
    expect(13_378 * 13_378).toBeGreaterThan(MAX_INPUT_PIXELS); // square, so PNG's own width limit does not interfere
    const justOver = await pngDeclaring(13_378, 13_378);
    expect(await transformImage(justOver.toString('base64'), 800)).toEqual({ ok: false, reason: REASON });
  });

  it('refuses SVG, which gischat never read', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    expect(await transformImage(svg.toString('base64'), 800)).toEqual({ ok: false, reason: REASON });
  });

  it.each([
    ['truncated PNG', async () => (await solid(300, 200).png().toBuffer()).subarray(0, 200).toString('base64')],
    ['truncated JPEG', async () => firstHalf(await solid(300, 200).jpeg().toBuffer()).toString('base64')],
    ['non-image bytes', async () => Buffer.from('this is not an image at all').toString('base64')],
    ['empty string', async () => ''],
    ['non-base64 characters', async () => `${(await solid(10, 10).png().toBuffer()).toString('base64')}!!!!`],
    ['url-safe alphabet', async () => (await solid(10, 10).png().toBuffer()).toString('base64url').padEnd(100, '_')],
    ['whitespace in base64', async () => (await solid(10, 10).png().toBuffer()).toString('base64').replace(/(.{16})/g, '$1\n')],
    ['missing padding', async () => (await solid(10, 10).png().toBuffer()).toString('base64').replace(/=+$/, '')],
    ['data: prefix', async () => `data:image/png;base64,${(await solid(10, 10).png().toBuffer()).toString('base64')}`],
  ])('refuses %s', async (_name, make) => {
    expect(await transformImage(await make(), 800)).toEqual({ ok: false, reason: REASON });
  });
});

describe('decodeStrictBase64', () => {
  it('accepts canonical padded base64', () => {
    expect(decodeStrictBase64('')?.length).toBe(0);
    expect(decodeStrictBase64('QQ==')?.toString()).toBe('A');
    expect(decodeStrictBase64('QUI=')?.toString()).toBe('AB');
    expect(decodeStrictBase64('QUJD')?.toString()).toBe('ABC');
  });

  it.each(['QQ', 'QQ=', 'Q===', '====', 'QQ==QQ==', 'Q Q==', 'QQ==\n', 'QU-_', '=QQ='])('refuses %j', (s) => {
    expect(decodeStrictBase64(s)).toBeNull();
  });

  it('checks a 5 MB string quickly', () => {
    const s = Buffer.alloc(3_750_000, 7).toString('base64');
    const start = performance.now();
    expect(decodeStrictBase64(s)?.length).toBe(3_750_000);
    expect(decodeStrictBase64(`${s.slice(0, -4)}AA!A`)).toBeNull();
    expect(performance.now() - start).toBeLessThan(1_000);
  });
});

describe('fitInside', () => {
  it.each([
    [1200, 800, 800, 533],
    [800, 1200, 533, 800],
    [800, 800, 800, 800],
    [801, 801, 800, 800],
    [1601, 1000, 800, 500],
    [100_000, 10, 800, 1],
    [100, 50, 100, 50],
  ])('%ix%i -> %ix%i', (w, h, ew, eh) => {
    expect(fitInside(w, h, 800)).toEqual({ width: ew, height: eh });
  });
});

/** Raw pixels (channels as given) with `colours` distinct values drawn at random, or fully random when omitted. */
function noise(width: number, height: number, channels: number, seed: number, colours?: number): Buffer {
  const random = rng(seed);
  const table = colours === undefined ? undefined : Array.from({ length: colours }, (_, i) => [i & 255, (i * 37) & 255, (i >> 8) * 90 + 7]);
  const px = Buffer.alloc(width * height * channels);
  for (let i = 0; i < width * height; i++) {
    const colour = table ? table[Math.floor(random() * table.length)]! : [random() * 256, random() * 256, random() * 256];
    for (let c = 0; c < Math.min(3, channels); c++) px[i * channels + c] = colour[c]!;
    if (channels === 4) px[i * channels + 3] = 255;
  }
  return px;
}

async function rgbaOf(png: Buffer): Promise<Buffer> {
  return sharp(png).toColourspace('srgb').ensureAlpha().raw().toBuffer();
}

async function rgbaOfRaw(px: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4): Promise<Buffer> {
  return sharp(px, { raw: { width, height, channels } }).toColourspace('srgb').ensureAlpha().raw().toBuffer();
}

describe('encodePng (lossless, smallest of a few encodings)', () => {
  it('drops an alpha channel that is opaque everywhere', async () => {
    const px = noise(64, 48, 4, 1);
    const png = await encodePng(px, 64, 48, 4);
    expect((await sharp(png).metadata()).channels).toBe(3);
    expect((await rgbaOf(png)).equals(px)).toBe(true);
  });

  it('keeps alpha when one pixel is translucent', async () => {
    const px = noise(64, 48, 4, 2);
    px[4 * 100 + 3] = 254;
    const png = await encodePng(px, 64, 48, 4);
    expect((await sharp(png).metadata()).channels).toBe(4);
    expect((await rgbaOf(png)).equals(px)).toBe(true);
  });

  it('writes one grey channel when every pixel has R = G = B', async () => {
    const px = noise(64, 48, 3, 3);
    for (let i = 0; i < px.length; i += 3) px[i + 1] = px[i + 2] = px[i]!;
    const png = await encodePng(px, 64, 48, 3);
    expect((await sharp(png).metadata()).channels).toBe(1);
    expect((await rgbaOf(png)).equals(await rgbaOfRaw(px, 64, 48, 3))).toBe(true);
  });

  it('writes a palette PNG for 256 colours, decoding to exactly the same pixels', async () => {
    const px = noise(200, 150, 3, 4, 256);
    const png = await encodePng(px, 200, 150, 3);
    expect((await sharp(png).metadata()).isPalette).toBe(true);
    expect((await rgbaOf(png)).equals(await rgbaOfRaw(px, 200, 150, 3))).toBe(true);
  });

  it.each([2, 3, 5, 17, 100])('writes a palette PNG for %i colours at a bit depth that holds them', async (n) => {
    const px = noise(120, 90, 3, 40 + n, n);
    const png = await encodePng(px, 120, 90, 3);
    expect((await sharp(png).metadata()).isPalette).toBe(true);
    expect((await rgbaOf(png)).equals(await rgbaOfRaw(px, 120, 90, 3))).toBe(true);
  });

  it('writes a palette PNG with transparency when alpha varies, losslessly', async () => {
    const px = noise(100, 80, 4, 5, 100);
    for (let i = 0; i < 100 * 80; i++) if (px[i * 4]! % 3 === 0) px[i * 4 + 3] = 128; // alpha follows the colour
    const png = await encodePng(px, 100, 80, 4);
    expect((await sharp(png).metadata()).isPalette).toBe(true);
    expect((await rgbaOf(png)).equals(px)).toBe(true);
  });

  it('falls back to truecolour when the palette would not decode to the same pixels', async () => {
    // The quantiser merges fully transparent pixels whatever their RGB; the check refuses that palette.
    const px = noise(100, 80, 4, 5, 100);
    for (let i = 0; i < 100 * 80; i += 7) px[i * 4 + 3] = 0;
    const png = await encodePng(px, 100, 80, 4);
    expect((await sharp(png).metadata()).isPalette).toBe(false);
    expect((await rgbaOf(png)).equals(px)).toBe(true);
  });

  it('stays truecolour with 257 colours', async () => {
    const px = noise(200, 150, 3, 6, 257);
    const png = await encodePng(px, 200, 150, 3);
    const meta = await sharp(png).metadata();
    expect([meta.isPalette, meta.channels]).toEqual([false, 3]);
    expect((await rgbaOf(png)).equals(await rgbaOfRaw(px, 200, 150, 3))).toBe(true);
  });

  it('shrinks a palette PNG with nearest neighbour, as Pillow does: no new colours, still a palette', async () => {
    const px = noise(1600, 900, 3, 7, 6);
    const input = await sharp(px, { raw: { width: 1600, height: 900, channels: 3 } }).png({ palette: true, colours: 8, dither: 0 }).toBuffer();
    const result = await expectPng(input.toString('base64'), 800, 800, 450);
    const out = Buffer.from(result.data, 'base64');
    expect((await sharp(out).metadata()).isPalette).toBe(true);
    const colours = (rgba: Buffer) => {
      const seen = new Set<number>();
      for (let i = 0; i < rgba.length; i += 4) seen.add(rgba.readUInt32BE(i));
      return seen;
    };
    const inputColours = colours(await rgbaOf(input));
    expect([...colours(await rgbaOf(out))].every((c) => inputColours.has(c))).toBe(true);
  });
});
