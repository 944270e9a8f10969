/**
 * A stand-in for gischat's test picture (tests/img/cat.jpg, which we do not copy): a deterministic photo-like
 * JPEG of the same geometry and weight, 1200 × 800 and ~0.73 MB (cat.jpg: 739,761 bytes, so its base64 stays
 * just under 1 MiB), whose PNG shrunk to 800 px is large (Pillow: ~0.8 MB for the cat; sharp more).
 *
 * Pixels: smooth multi-octave value noise per channel (the scene) plus fine per-pixel grain (sensor noise and
 * fur-like texture that makes both JPEG and PNG expensive). Same bytes on every run for a given sharp version.
 */
import sharp from 'sharp';
import { rng as prng } from './pictures';

export interface PhotoOptions {
  width?: number;
  height?: number;
  /** JPEG quality, 1–100. */
  quality?: number;
  /** Amplitude of the per-pixel grain, 0–255. */
  grain?: number;
  seed?: number;
}


/** Value noise on a lattice of `cell` pixels, smoothstep-interpolated: values in [0, 1). */
function valueNoise(width: number, height: number, cell: number, rand: () => number): Float32Array {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = Float32Array.from({ length: gw * gh }, rand);
  const out = new Float32Array(width * height);
  const smooth = (t: number) => t * t * (3 - 2 * t);
  for (let y = 0; y < height; y++) {
    const gy = Math.floor(y / cell);
    const ty = smooth((y % cell) / cell);
    for (let x = 0; x < width; x++) {
      const gx = Math.floor(x / cell);
      const tx = smooth((x % cell) / cell);
      const a = grid[gy * gw + gx]!;
      const b = grid[gy * gw + gx + 1]!;
      const c = grid[(gy + 1) * gw + gx]!;
      const d = grid[(gy + 1) * gw + gx + 1]!;
      out[y * width + x] = (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty;
    }
  }
  return out;
}

/** Raw RGB pixels of the synthetic photo. */
export function photoPixels(opts: PhotoOptions = {}): { data: Buffer; width: number; height: number } {
  const { width = 1200, height = 800, grain = 37, seed = 20_240_601 } = opts;
  const rand = prng(seed);
  const octaves = [
    { cell: 400, weight: 0.45 },
    { cell: 120, weight: 0.25 },
    { cell: 40, weight: 0.15 },
    { cell: 12, weight: 0.1 },
    { cell: 4, weight: 0.05 },
  ];
  const channels = [0, 1, 2].map(() => octaves.map((o) => ({ ...o, noise: valueNoise(width, height, o.cell, rand) })));
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (const o of channels[c]!) v += o.noise[i]! * o.weight;
      const px = v * 255 + (rand() - 0.5) * grain;
      data[i * 3 + c] = px < 0 ? 0 : px > 255 ? 255 : Math.round(px);
    }
  }
  return { data, width, height };
}

/** The JPEG bytes of the synthetic photo (4:4:4 chroma like a camera's high-quality setting). */
export async function photoJpeg(opts: PhotoOptions = {}): Promise<Buffer> {
  const { data, width, height } = photoPixels(opts);
  return sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: opts.quality ?? 92, chromaSubsampling: '4:4:4' })
    .toBuffer();
}
