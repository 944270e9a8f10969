/**
 * bigframe: one sender shares an 800 px photo-like PNG (≈1.5 MB: a 2 MB frame, `imageBytes` chars of base64) as
 * an `image` message to R receivers in one channel (1,000 by default); the figure is the time from the send until
 * the last receiver has the whole frame. `frames` images are sent one after the other (each after the previous
 * one reached everyone or timed out); figures are medians over them. Receivers count any frame of at least
 * 100 KB as the image (by size, never parsing it), so the client side stays cheap.
 * Our server and gischat re-encode the image (PNG again: it is not larger than 800 px; ours gives the same size
 * back since the picture is already its output); the baselines relay it as received, the JSON built once for all.
 */
import sharp from 'sharp';
import { Pool, slices } from '../client/pool';
import { Histogram, median, mergeCounts } from '../lib/stats';
import { photoPixels } from '../../tests/support/pictures';
import { transformImage } from '../../services/relay/src/image';
import { measured, r, token, workersFor, type Ctx, type FigureSpec, type ScenarioResult } from './common';
import { fmtCounts } from './storm';

export interface BigframeOptions {
  receivers: number;
  frames: number;
  /** Wanted size of the frame's payload: the image's base64 text, in characters (2,000,000 ≈ a 1.5 MB PNG). */
  imageBytes: number;
  channel: string;
}

export const bigframeFigures: FigureSpec[] = [
  { key: 'all_received_ms', label: 'send → last receiver has it (median)', unit: 'ms', better: 'lower' },
  { key: 'all_received_max_ms', label: 'send → last receiver, worst frame', unit: 'ms', better: 'lower' },
  { key: 'latency_p50_ms', label: 'per-receiver latency p50', unit: 'ms', better: 'lower' },
  { key: 'latency_p99_ms', label: 'per-receiver latency p99', unit: 'ms', better: 'lower' },
  { key: 'missing', label: 'deliveries missing', unit: '', better: 'lower' },
  { key: 'png_bytes', label: 'PNG sent', unit: 'B', better: 'none' },
  { key: 'frame_bytes_in', label: 'frame sent', unit: 'B', better: 'none' },
  { key: 'frame_bytes_out', label: 'frame received', unit: 'B', better: 'none' },
  { key: 'server_cpu_s', label: 'server CPU', unit: 's', better: 'lower' },
];

const MIN_BIG = 100_000;

/**
 * The picture: a photo-like 800×800 RGB image (tests/support/pictures.ts, seed 14) as our server's image transform
 * (services/relay/src/image.ts) writes it, so the baselines relay exactly the bytes our server broadcasts (the same
 * frame size for both; re-encoding it again gives the same size). The sensor noise grows until the base64 text
 * (the frame's payload) is at least `chars` long: 2,000,000 chars ≈ a 1.5 MB PNG in a 2 MB frame.
 */
export async function bigPng(chars: number): Promise<{ png: Buffer; width: number; height: number }> {
  const key = String(chars);
  const cached = pngCache.get(key);
  if (cached) return cached;
  let best: { png: Buffer; width: number; height: number } | undefined;
  for (const noise of [4, 8, 12, 16, 20, 24, 32, 48, 64]) {
    const pixels = await photoPixels({ width: 800, height: 800, seed: 14, noise });
    const raw = await sharp(pixels, { raw: { width: 800, height: 800, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
    const out = await transformImage(raw.toString('base64'), 800);
    if (!out.ok) throw new Error('bigframe: our image transform refused the generated picture');
    best = { png: Buffer.from(out.data, 'base64'), width: out.width, height: out.height };
    if (out.data.length >= chars) break;
  }
  pngCache.set(key, best!);
  return best!;
}
const pngCache = new Map<string, { png: Buffer; width: number; height: number }>();

export async function bigframe(ctx: Ctx, opts: BigframeOptions): Promise<ScenarioResult> {
  const recvWorkers = workersFor(opts.receivers, 2000);
  const pool = await Pool.start(recvWorkers + 1);
  const receivers = pool.workers.slice(0, recvWorkers);
  const sender = pool.workers[recvWorkers]!;
  try {
    const { png, width, height } = await bigPng(opts.imageBytes);
    return await measured('bigframe', ctx, { ...opts, workers: pool.size, pngBytes: png.length, width, height }, async (sampler) => {
      const notes: string[] = [];
      const parts = slices(opts.receivers, receivers.length);
      ctx.say(`bigframe: ${opts.receivers} receivers over ${receivers.length} workers; a ${width}×${height} PNG of ${png.length} bytes, ${opts.frames} time(s)`);
      const opened = await Promise.all(receivers.map((w, i) => w.call({
        cmd: 'open', tag: 'big', bases: ctx.target.bases, channels: [opts.channel], channelBlock: Number.MAX_SAFE_INTEGER,
        from: parts[i]![0], count: parts[i]![1], nickPrefix: null, inflight: 100, handshakeTimeoutMs: 20_000,
      }, 180_000)));
      const nick = `g${token()}_0`;
      const sOpen = await sender.call({
        cmd: 'open', tag: 'bigsend', bases: ctx.target.bases, channels: [opts.channel], channelBlock: Number.MAX_SAFE_INTEGER,
        from: 0, count: 1, nickPrefix: nick.slice(0, -1), inflight: 1, handshakeTimeoutMs: 20_000,
      }, 60_000);
      const failed = opened.reduce((a, o) => a + o.failed, 0) + sOpen.failed;
      if (failed > 0) {
        const errors: Record<string, number> = {};
        for (const o of [...opened, sOpen]) mergeCounts(errors, o.errors);
        notes.push(`${failed} connections failed: ${fmtCounts(errors)}`);
      }
      if (sOpen.opened === 0) throw new Error('bigframe: the sender could not connect');
      await pool.all(() => ({ cmd: 'quiet', quietMs: 1000, timeoutMs: 60_000 }), 70_000);
      const frame = JSON.stringify({ type: 'image', author: nick, avatar: null, image_data: png.toString('base64') });
      const cpu0 = sampler.targetCpu();
      const alls: number[] = [];
      const latency = new Histogram();
      let missing = 0;
      let bytesOut = 0;
      for (let f = 0; f < opts.frames; f++) {
        await Promise.all(receivers.map((w) => w.call({ cmd: 'bigarm', tag: 'big', minBytes: MIN_BIG }, 10_000)));
        const sent = await sender.call({ cmd: 'bigsend', tag: 'bigsend', frame }, 30_000);
        const got = await Promise.all(receivers.map((w) => w.call({ cmd: 'bigcollect', tag: 'big', sentAt: sent.sentAt, timeoutMs: 30_000, quietMs: 5000 }, 45_000)));
        const n = got.reduce((a, g) => a + g.got, 0);
        const open = got.reduce((a, g) => a + g.receivers, 0);
        const lastAt = Math.max(...got.map((g) => g.lastAt));
        for (const g of got) latency.merge(g.latency);
        bytesOut = Math.max(bytesOut, ...got.map((g) => g.bytesMax));
        missing += Math.max(0, open - n);
        const all = n >= open && n > 0 ? lastAt - sent.sentAt : NaN;
        alls.push(all);
        ctx.say(`bigframe ${f + 1}/${opts.frames}: ${n}/${open} received, last after ${Number.isFinite(all) ? `${r(all, 0)} ms` : 'never (timeout)'}`);
        await pool.all(() => ({ cmd: 'quiet', quietMs: 500, timeoutMs: 20_000 }), 30_000);
      }
      const lat = latency.summary();
      const done = alls.filter(Number.isFinite);
      if (missing > 0) notes.push(`${missing} deliveries missing within 30 s`);
      return {
        figures: {
          all_received_ms: done.length === alls.length ? r(median(done), 1) : NaN,
          all_received_max_ms: done.length === alls.length ? r(Math.max(...done), 1) : NaN,
          latency_p50_ms: lat.p50,
          latency_p99_ms: lat.p99,
          missing,
          png_bytes: png.length,
          frame_bytes_in: Buffer.byteLength(frame),
          frame_bytes_out: bytesOut,
          server_cpu_s: r(sampler.targetCpu() - cpu0, 2),
        },
        notes,
        details: { perFrameMs: alls.map((v) => r(v, 1)) },
      };
    });
  } finally {
    await pool.stop();
  }
}
