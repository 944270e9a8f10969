/**
 * Realistic test pictures, generated (no third-party images in the repository), deterministic for a seed.
 * Used by the image tests and the PNG bench (bench/png.ts).
 *
 * - photo: smooth multi-octave colour noise over a sky/ground gradient, fine texture and per-pixel sensor noise,
 *   encoded as JPEG (a 4000×3000 one at q90 weighs about what a phone photo does: a few MB).
 * - screenshot: flat UI (panels, buttons, text-like glyph rows; few colours) or a map (land-use fills, roads,
 *   anti-aliased lines and labels; many colours), encoded as PNG (truecolour, RGBA or palette).
 */
import sharp from 'sharp';

export type PictureKind = 'photo' | 'screenshot-ui' | 'screenshot-map';

export interface Picture {
  name: string;
  kind: PictureKind;
  format: 'jpeg' | 'png';
  width: number;
  height: number;
  bytes: Buffer;
}

/** xorshift32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

/** One octave: random values on a coarse grid, upscaled smoothly (bicubic) to width × height, 3 channels. */
async function octave(width: number, height: number, cell: number, random: () => number): Promise<Buffer> {
  const w = Math.max(2, Math.ceil(width / cell) + 1);
  const h = Math.max(2, Math.ceil(height / cell) + 1);
  const grid = Buffer.alloc(w * h * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = Math.floor(random() * 256);
  return sharp(grid, { raw: { width: w, height: h, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
}

export interface PhotoOptions {
  width: number;
  height: number;
  seed?: number;
  /** JPEG quality, 1–100 (default 90). */
  quality?: number;
  /** Standard deviation of the per-pixel sensor noise, in 8-bit levels (default 3). */
  noise?: number;
}

/** Raw RGB pixels of a photo-like picture. */
export async function photoPixels(opts: PhotoOptions): Promise<Buffer> {
  const { width, height, seed = 1, noise = 3 } = opts;
  const random = rng(seed);
  const long = Math.max(width, height);
  // Octaves from scene-sized blobs down to a few pixels (foliage, gravel, fabric…), weights falling with size.
  const octaves: Array<[cell: number, weight: number]> = [
    [long / 3, 0.9],
    [long / 12, 0.55],
    [long / 48, 0.3],
    [long / 200, 0.16],
    [6, 0.14],
    [2.5, 0.08],
  ];
  const layers = await Promise.all(octaves.map(([cell]) => octave(width, height, Math.max(2, cell), random)));
  const out = Buffer.alloc(width * height * 3);
  const sky = [120 + random() * 60, 150 + random() * 50, 200 + random() * 40];
  const ground = [70 + random() * 60, 80 + random() * 50, 40 + random() * 40];
  const horizon = 0.35 + random() * 0.2;
  const norm = 1 / octaves.reduce((sum, [, weight]) => sum + weight, 0);
  let n = 0;
  for (let y = 0; y < height; y++) {
    const t = y / height;
    const inSky = t < horizon;
    // Sky: a smooth gradient with little texture; ground: full texture.
    const texture = inSky ? 0.25 : 1;
    for (let x = 0; x < width; x++) {
      const pixel = n;
      for (let c = 0; c < 3; c++, n++) {
        // Mostly luminance (channel 0 of each octave, shared), a little chroma: channels correlate as in photos.
        let v = 0;
        for (let o = 0; o < octaves.length; o++) {
          const layer = layers[o]!;
          v += ((layer[pixel]! - 128) * 0.85 + (layer[n]! - 128) * 0.35) * octaves[o]![1];
        }
        const base = inSky ? sky[c]! + (t / horizon) * 30 : ground[c]! * (0.7 + 0.6 * ((t - horizon) / (1 - horizon)));
        // Box–Muller-free noise: sum of two uniforms ≈ triangular, scaled to the wanted σ.
        const grain = (random() + random() - 1) * noise * 2.45;
        const value = base + v * norm * 1.6 * texture + grain;
        out[n] = value < 0 ? 0 : value > 255 ? 255 : value;
      }
    }
  }
  return out;
}

/** A photo-like JPEG. */
export async function photo(opts: PhotoOptions): Promise<Buffer> {
  const pixels = await photoPixels(opts);
  return sharp(pixels, { raw: { width: opts.width, height: opts.height, channels: 3 } })
    .jpeg({ quality: opts.quality ?? 90 })
    .toBuffer();
}

/** 5×7 glyphs, random but fixed per seed: text-like strokes without fonts. */
function glyphs(random: () => number, count: number): boolean[][] {
  return Array.from({ length: count }, () => Array.from({ length: 35 }, () => random() < 0.42));
}

class Canvas {
  readonly px: Buffer;
  constructor(
    readonly width: number,
    readonly height: number,
    background: readonly number[],
  ) {
    this.px = Buffer.alloc(width * height * 3);
    this.rect(0, 0, width, height, background);
  }
  rect(x0: number, y0: number, w: number, h: number, colour: readonly number[]): void {
    const x1 = Math.min(this.width, Math.round(x0 + w));
    const y1 = Math.min(this.height, Math.round(y0 + h));
    for (let y = Math.max(0, Math.round(y0)); y < y1; y++) {
      for (let x = Math.max(0, Math.round(x0)); x < x1; x++) {
        const i = (y * this.width + x) * 3;
        this.px[i] = colour[0]!;
        this.px[i + 1] = colour[1]!;
        this.px[i + 2] = colour[2]!;
      }
    }
  }
  line(x0: number, y0: number, x1: number, y1: number, thickness: number, colour: readonly number[]): void {
    const steps = Math.ceil(Math.hypot(x1 - x0, y1 - y0));
    const r = thickness / 2;
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      this.rect(x - r, y - r, thickness, thickness, colour);
    }
  }
  text(x: number, y: number, chars: number, scale: number, font: boolean[][], random: () => number, colour: readonly number[]): number {
    let cx = x;
    for (let c = 0; c < chars; c++) {
      if (random() < 0.15) {
        cx += 4 * scale; // a space
        continue;
      }
      const glyph = font[Math.floor(random() * font.length)]!;
      for (let gy = 0; gy < 7; gy++) {
        for (let gx = 0; gx < 5; gx++) if (glyph[gy * 5 + gx]) this.rect(cx + gx * scale, y + gy * scale, scale, scale, colour);
      }
      cx += 6 * scale;
    }
    return cx;
  }
}

export interface ScreenshotOptions {
  width: number;
  height: number;
  seed?: number;
  /** 'ui': flat desktop UI (few colours); 'map': map canvas with anti-aliased lines (many colours). */
  kind?: 'ui' | 'map';
  /** PNG colour type of the file: rgb (default), rgba (opaque alpha, as many screenshot tools write) or palette. */
  encoding?: 'rgb' | 'rgba' | 'palette';
}

function uiPixels(width: number, height: number, random: () => number): Buffer {
  const canvas = new Canvas(width, height, [246, 246, 247]);
  const font = glyphs(random, 60);
  const ink = [32, 33, 36];
  const accent = [26, 115, 232];
  canvas.rect(0, 0, width, 36, [60, 64, 67]); // title bar
  canvas.text(12, 11, 30, 2, font, random, [240, 240, 240]);
  const side = Math.round(width * 0.22);
  canvas.rect(0, 36, side, height - 36, [232, 234, 237]); // side panel
  for (let y = 56; y < height - 30; y += 30) {
    if (random() < 0.2) canvas.rect(4, y - 6, side - 8, 26, [210, 227, 252]);
    canvas.rect(14, y, 14, 14, random() < 0.5 ? accent : [95, 99, 104]);
    canvas.text(36, y, 8 + Math.floor(random() * 14), 2, font, random, ink);
  }
  // Content: cards with headings, paragraphs and buttons.
  let y = 56;
  while (y < height - 120) {
    const h = 90 + Math.floor(random() * 160);
    canvas.rect(side + 20, y, width - side - 40, h, [255, 255, 255]);
    canvas.rect(side + 20, y, width - side - 40, 1, [218, 220, 224]);
    canvas.text(side + 36, y + 14, 20 + Math.floor(random() * 20), 2, font, random, ink);
    for (let ty = y + 40; ty < y + h - 40; ty += 14) canvas.text(side + 36, ty, 60 + Math.floor(random() * 60), 1, font, random, [95, 99, 104]);
    canvas.rect(width - 160, y + h - 34, 120, 26, accent);
    canvas.text(width - 146, y + h - 27, 10, 2, font, random, [255, 255, 255]);
    y += h + 16;
  }
  return canvas.px;
}

async function mapPixels(width: number, height: number, random: () => number): Promise<Buffer> {
  // Drawn at twice the size, then halved: anti-aliased edges, as a map canvas renders them.
  const canvas = new Canvas(width * 2, height * 2, [242, 239, 233]);
  const fills = [
    [200, 225, 190],
    [170, 211, 223],
    [224, 223, 223],
    [242, 218, 217],
    [222, 246, 192],
  ];
  for (let i = 0; i < 140; i++) {
    canvas.rect(random() * width * 2, random() * height * 2, 60 + random() * 500, 60 + random() * 400, fills[Math.floor(random() * fills.length)]!);
  }
  for (let i = 0; i < 90; i++) {
    const x = random() * width * 2;
    const y = random() * height * 2;
    const angle = random() * Math.PI;
    const len = 200 + random() * 1400;
    const major = random() < 0.2;
    canvas.line(x, y, x + Math.cos(angle) * len, y + Math.sin(angle) * len, major ? 14 : 6, [180, 180, 180]);
    canvas.line(x, y, x + Math.cos(angle) * len, y + Math.sin(angle) * len, major ? 10 : 4, major ? [247, 250, 191] : [255, 255, 255]);
  }
  const font = glyphs(random, 60);
  for (let i = 0; i < 60; i++) canvas.text(random() * width * 2, random() * height * 2, 4 + Math.floor(random() * 10), 2, font, random, [80, 80, 90]);
  return sharp(canvas.px, { raw: { width: width * 2, height: height * 2, channels: 3 } }).resize(width, height).raw().toBuffer();
}

/** A screenshot-like PNG. */
export async function screenshot(opts: ScreenshotOptions): Promise<Buffer> {
  const { width, height, seed = 1, kind = 'ui', encoding = 'rgb' } = opts;
  const random = rng(seed);
  const pixels = kind === 'ui' ? uiPixels(width, height, random) : await mapPixels(width, height, random);
  let image = sharp(pixels, { raw: { width, height, channels: 3 } });
  if (encoding === 'rgba') image = image.ensureAlpha(1);
  return image.png(encoding === 'palette' ? { palette: true, colours: 256, dither: 0, quality: 100 } : {}).toBuffer();
}

/**
 * The comparison set. 'bench': full-size phone photos (3000×2000 and 4000×3000 JPEG) and desktop screenshots;
 * 'test': the same kinds at sizes that keep a test run short (still larger than the 800 px output).
 */
export async function pictureSet(scale: 'test' | 'bench' = 'bench'): Promise<Picture[]> {
  const big = scale === 'bench';
  const specs: Array<Omit<Picture, 'bytes'> & { make: () => Promise<Buffer> }> = [];
  const add = (name: string, kind: PictureKind, format: 'jpeg' | 'png', width: number, height: number, make: () => Promise<Buffer>) =>
    specs.push({ name, kind, format, width, height, make });
  if (big) {
    add('photo 3000×2000 q85', 'photo', 'jpeg', 3000, 2000, () => photo({ width: 3000, height: 2000, seed: 11, quality: 85 }));
    add('photo 4000×3000 q92', 'photo', 'jpeg', 4000, 3000, () => photo({ width: 4000, height: 3000, seed: 12, quality: 92 }));
    add('photo 3000×4000 q90 (portrait)', 'photo', 'jpeg', 3000, 4000, () => photo({ width: 3000, height: 4000, seed: 13, quality: 90, noise: 5 }));
  } else {
    add('photo 1600×1200 q90', 'photo', 'jpeg', 1600, 1200, () => photo({ width: 1600, height: 1200, seed: 11, quality: 90 }));
  }
  add('photo 640×480 q85 (not resized)', 'photo', 'jpeg', 640, 480, () => photo({ width: 640, height: 480, seed: 14, quality: 85 }));
  const [w, h] = big ? [1920, 1080] : [1280, 720];
  add(`ui ${w}×${h} rgb`, 'screenshot-ui', 'png', w, h, () => screenshot({ width: w, height: h, seed: 21, kind: 'ui' }));
  add(`ui ${w}×${h} rgba`, 'screenshot-ui', 'png', w, h, () => screenshot({ width: w, height: h, seed: 22, kind: 'ui', encoding: 'rgba' }));
  add(`ui ${w}×${h} palette`, 'screenshot-ui', 'png', w, h, () => screenshot({ width: w, height: h, seed: 23, kind: 'ui', encoding: 'palette' }));
  add('ui 720×480 rgb (not resized)', 'screenshot-ui', 'png', 720, 480, () => screenshot({ width: 720, height: 480, seed: 24, kind: 'ui' }));
  add(`map ${w}×${h} rgb`, 'screenshot-map', 'png', w, h, () => screenshot({ width: w, height: h, seed: 31, kind: 'map' }));
  add('map 800×600 rgba (not resized)', 'screenshot-map', 'png', 800, 600, () => screenshot({ width: 800, height: 600, seed: 32, kind: 'map', encoding: 'rgba' }));
  const pictures: Picture[] = [];
  for (const { make, ...spec } of specs) pictures.push({ ...spec, bytes: await make() });
  return pictures;
}

/**
 * A photo-like JPEG whose base64 form is as long as possible without exceeding maxChars (e.g. 5,000,000, the
 * default MAX_IMAGE_RAW_LENGTH). Generates the pixels once (4:3, sized from a probe), then bisects the crop width at
 * `quality` (default 94) and raises the quality at the best width while it still fits. Lands within ~0.5 % below
 * maxChars. Strong sensor noise (default σ = 8, a phone in dim light) keeps the pixel count phone-like: 5,000,000
 * characters ≈ a 6 MP photo, made in ~10 s.
 */
export async function jpegBelowChars(
  maxChars: number,
  { seed = 7, quality = 94, noise = 8 }: { seed?: number; quality?: number; noise?: number } = {},
): Promise<{ bytes: Buffer; base64: string; width: number; height: number; quality: number }> {
  const chars = (bytes: Buffer) => Math.ceil(bytes.length / 3) * 4;
  const probe = { width: 400, height: 300 };
  const probeBytes = await photo({ ...probe, seed, quality, noise });
  const bytesPerPixel = probeBytes.length / (probe.width * probe.height);
  // Room to spare: larger pictures of this content compress a little better than the probe.
  const full = Math.max(64, Math.ceil(Math.sqrt(((maxChars * 0.75) / bytesPerPixel) * (4 / 3)) * 1.4));
  const fullHeight = Math.round((full * 3) / 4);
  const pixels = await photoPixels({ width: full, height: fullHeight, seed, noise });
  const make = async (width: number, quality: number) => {
    const height = Math.max(1, Math.round((width * 3) / 4));
    const bytes = await sharp(pixels, { raw: { width: full, height: fullHeight, channels: 3 } })
      .extract({ left: 0, top: 0, width, height })
      .jpeg({ quality })
      .toBuffer();
    return { bytes, width, height, quality };
  };
  let lo = 8;
  let hi = full;
  let best: Awaited<ReturnType<typeof make>> | undefined;
  while (hi - lo > 2) {
    const mid = Math.round((lo + hi) / 2);
    const candidate = await make(mid, quality);
    if (chars(candidate.bytes) <= maxChars) {
      best = candidate;
      lo = mid;
    } else hi = mid;
  }
  best ??= await make(lo, quality);
  for (let q = quality + 1; q <= 100; q++) {
    const candidate = await make(best.width, q);
    if (chars(candidate.bytes) > maxChars) break;
    best = candidate;
  }
  if (chars(best.bytes) > maxChars) throw new Error(`cannot make a JPEG under ${maxChars} base64 characters`);
  return { ...best, base64: best.bytes.toString('base64') };
}
