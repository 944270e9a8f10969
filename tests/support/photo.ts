/**
 * Photo-like JPEGs for tests at the image limit: a smooth random scene (a small random image upscaled) with sensor
 * noise over it, as a phone photo has. Deterministic scene; quality searched so the base64 fits a character budget.
 */
import sharp from 'sharp';

const cache = new Map<string, Promise<string>>();

/** Base64 of a width × height JPEG whose length is as close as possible to `maxChars` without passing it. */
export function photoBase64(maxChars: number, width = 3200, height = 2400): Promise<string> {
  const key = `${maxChars}:${width}x${height}`;
  let made = cache.get(key);
  if (!made) {
    made = make(maxChars, width, height);
    cache.set(key, made);
  }
  return made;
}

async function make(maxChars: number, width: number, height: number): Promise<string> {
  const raw = await scene(width, height);
  const encode = (quality: number) => sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
  let best: Buffer | undefined;
  let [lo, hi] = [1, 100];
  while (lo <= hi) {
    const q = (lo + hi) >> 1;
    const jpg = await encode(q);
    if (Math.ceil(jpg.length / 3) * 4 <= maxChars) {
      best = jpg;
      lo = q + 1;
    } else {
      hi = q - 1;
    }
  }
  if (!best) throw new Error(`no ${width}x${height} JPEG fits ${maxChars} base64 characters`);
  return best.toString('base64');
}

async function scene(width: number, height: number): Promise<Buffer> {
  const [sw, sh] = [Math.ceil(width / 24), Math.ceil(height / 24)];
  let s = 42;
  const small = Buffer.alloc(sw * sh * 3);
  for (let i = 0; i < small.length; i++) small[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  const base = await sharp(small, { raw: { width: sw, height: sh, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
  const noise = await sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 12 } } }).raw().toBuffer();
  return sharp(base, { raw: { width, height, channels: 3 } })
    .composite([{ input: noise, raw: { width, height, channels: 3 }, blend: 'soft-light' }])
    .raw()
    .toBuffer();
}
