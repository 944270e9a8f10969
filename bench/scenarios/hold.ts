/**
 * hold: N idle sockets held for a while; the server's RSS per socket. The sockets are spread over channels of
 * `channelSize` (every connect broadcasts nb_users to its channel, so one channel of N would cost N²/2 frames
 * and measure that storm instead of idle memory). RSS is read from /proc/<pid>/status, summed over every process
 * of the target (edges, presence, relay, redis-server, nats-server; gischat's uvicorn processes and its Redis) and
 * per process kind, or GET /rss for an external baseline without --pid. The forced GC reaches every Node process
 * of the target through its inspector; Redis, NATS and Python processes get none (their RSS is read as it is).
 */
import { Pool, slices } from '../client/pool';
import { nowMs, sleep } from '../lib/clock';
import { Histogram, mergeCounts, median } from '../lib/stats';
import { collectGarbage, rssByKind, serverRss, type MemProc, type Target } from '../lib/targets';
import { measured, r, workersFor, type Ctx, type FigureSpec, type ScenarioResult } from './common';
import { fmtCounts } from './storm';

export interface HoldOptions {
  clients: number;
  seconds: number;
  /** Channels the sockets are spread over (block by block). */
  channels: string[];
  channelSize: number;
  inflight: number;
}

export const holdFigures: FigureSpec[] = [
  { key: 'rss_per_socket_kib', label: 'RSS per socket', unit: 'KiB', better: 'lower' },
  { key: 'rss_per_socket_nogc_kib', label: 'RSS per socket, no forced GC', unit: 'KiB', better: 'lower' },
  ...(['server', 'edge', 'presence', 'relay', 'redis', 'nats', 'gischat'] as MemProc['kind'][]).flatMap((k): FigureSpec[] => [
    { key: `rss_per_socket_${k}_kib`, label: `  of which ${k} process(es)`, unit: 'KiB', better: 'lower' },
    { key: `rss_per_socket_${k}_nogc_kib`, label: `  of which ${k} process(es), no forced GC`, unit: 'KiB', better: 'lower' },
  ]),
  { key: 'rss_before_mib', label: 'RSS before', unit: 'MiB', better: 'lower' },
  { key: 'rss_held_mib', label: 'RSS held (median, no forced GC)', unit: 'MiB', better: 'lower' },
  { key: 'rss_held_gc_mib', label: 'RSS held after a full GC', unit: 'MiB', better: 'lower' },
  { key: 'open_all_ms', label: 'time to open all', unit: 'ms', better: 'lower' },
  { key: 'connect_p99_ms', label: 'connect p99', unit: 'ms', better: 'lower' },
  { key: 'alive_at_end', label: 'alive at end', unit: '', better: 'higher' },
  { key: 'failures', label: 'failures', unit: '', better: 'lower' },
  { key: 'idle_cpu_pct', label: 'server CPU while idle', unit: '%', better: 'lower' },
];

const MiB = 2 ** 20;

/** Channel names for N sockets in blocks of `size`: prefix0, prefix1, … */
export function holdChannels(n: number, size: number, prefix = 'hold'): string[] {
  return Array.from({ length: Math.max(1, Math.ceil(n / size)) }, (_, i) => `${prefix}${i}`);
}

export async function hold(ctx: Ctx, opts: HoldOptions): Promise<ScenarioResult> {
  const n = opts.clients;
  const pool = await Pool.start(workersFor(n));
  try {
    return await measured('hold', ctx, { ...opts, channels: opts.channels.length, workers: pool.size }, async (sampler) => {
      const notes: string[] = [];
      // Warm-up: open and close 5 % of the sockets (JIT, buffers, first-connection allocations), then measure.
      const warm = Math.min(500, Math.max(10, Math.round(n * 0.05)));
      const wparts = slices(warm, pool.size);
      await pool.all((_, i) => ({
        cmd: 'open', tag: 'warm', bases: ctx.target.bases, channels: opts.channels, channelBlock: opts.channelSize,
        from: wparts[i]![0], count: wparts[i]![1], nickPrefix: null, inflight: 50, handshakeTimeoutMs: 30_000,
      }), 120_000);
      await pool.all(() => ({ cmd: 'close', tag: 'warm' }), 60_000);
      await sleep(1000);
      const gc = await fullGc(ctx.target).catch((err: unknown) => {
        notes.push(`forced GC failed: ${(err as Error).message}`);
        return false;
      });
      if (!gc) notes.push('no forced GC (no inspector on the server): RSS includes whatever garbage was around');
      const rssBefore = await settledRss(ctx.target);
      const kindsBefore = rssByKind(ctx.target);
      if (!Number.isFinite(rssBefore)) notes.push('server RSS unreadable: pass --pid <server pid> (or target a baseline with GET /rss)');
      ctx.say(`hold: ${n} sockets over ${opts.channels.length} channel(s) and ${pool.size} workers; server RSS before ${r(rssBefore / MiB, 1)} MiB`);
      const parts = slices(n, pool.size);
      const t0 = nowMs();
      const opened = await pool.all((_, i) => ({
        cmd: 'open', tag: 'hold', bases: ctx.target.bases, channels: opts.channels, channelBlock: opts.channelSize,
        from: parts[i]![0], count: parts[i]![1], nickPrefix: null, inflight: Math.max(1, Math.ceil(opts.inflight / pool.size)),
        handshakeTimeoutMs: 30_000,
      }), 600_000);
      const connect = new Histogram();
      const errors: Record<string, number> = {};
      let ok = 0;
      let failed = 0;
      for (const o of opened) {
        connect.merge(o.connect);
        mergeCounts(errors, o.errors);
        ok += o.opened;
        failed += o.failed;
      }
      const openAll = Math.max(...opened.map((o) => o.endedAt)) - t0;
      if (failed > 0) notes.push(`${failed} connections failed: ${fmtCounts(errors)}`);
      // Let the nb_users broadcasts of the last joins finish before calling the sockets idle.
      const q = await pool.all(() => ({ cmd: 'quiet', quietMs: 1000, timeoutMs: 60_000 }), 70_000);
      if (!q.every((x) => x.quiet)) notes.push('clients were still receiving frames 60 s after the last connect');
      ctx.say(`hold: ${ok} open (${failed} failed) in ${r(openAll, 0)} ms; holding ${opts.seconds} s`);
      const samples: number[] = [];
      const kindSamples: Record<string, number>[] = [];
      const cpu0 = sampler.targetCpu();
      const holdStart = nowMs();
      while (nowMs() - holdStart < opts.seconds * 1000) {
        await sleep(1000);
        samples.push(await serverRss(ctx.target));
        kindSamples.push(rssByKind(ctx.target));
      }
      const idleCpu = (sampler.targetCpu() - cpu0) / ((nowMs() - holdStart) / 1000);
      const status = await pool.all(() => ({ cmd: 'status', tag: 'hold' }), 30_000);
      const alive = status.reduce((a, s) => a + s.open, 0);
      const closes: Record<string, number> = {};
      for (const s of status) mergeCounts(closes, s.closes);
      if (alive < ok) notes.push(`${ok - alive} sockets closed by the server while idle: codes ${fmtCounts(closes)}`);
      // The second half of the hold: after the connect garbage has had time to be collected.
      const tailSamples = samples.slice(Math.floor(samples.length / 2)).filter(Number.isFinite);
      const held = tailSamples.length > 0 ? median(tailSamples) : NaN;
      // The figure: live memory per socket, both readings right after a full GC when we could force one.
      const heldGc = gc && (await fullGc(ctx.target).catch(() => false)) ? await settledRss(ctx.target) : NaN;
      const kindsAfterGc = Number.isFinite(heldGc) ? rssByKind(ctx.target) : {};
      // Per process kind: does a process grow with sockets it does not hold (presence, relay, brokers)?
      const perKind: Record<string, number> = {};
      const tailKinds = kindSamples.slice(Math.floor(kindSamples.length / 2));
      for (const kind of Object.keys(kindsBefore)) {
        const heldK = median(tailKinds.map((x) => x[kind]!).filter(Number.isFinite));
        const afterK = kindsAfterGc[kind] ?? heldK;
        perKind[`rss_per_socket_${kind}_kib`] = alive > 0 ? r((afterK - kindsBefore[kind]!) / alive / 1024, 2) : NaN;
        perKind[`rss_per_socket_${kind}_nogc_kib`] = alive > 0 ? r((heldK - kindsBefore[kind]!) / alive / 1024, 2) : NaN;
      }
      const perSocketFrom = Number.isFinite(heldGc) ? heldGc : held;
      await pool.all(() => ({ cmd: 'close', tag: 'hold' }), 60_000);
      if (Math.abs(perSocketFrom - rssBefore) < 4 * MiB) {
        notes.push(`RSS grew by ${r((perSocketFrom - rssBefore) / MiB, 1)} MiB only: within the few-MiB noise of RSS readings, use more sockets`);
      }
      const c = connect.summary();
      return {
        figures: {
          clients: n,
          opened: ok,
          rss_before_mib: r(rssBefore / MiB, 1),
          rss_held_mib: r(held / MiB, 1),
          rss_held_gc_mib: r(heldGc / MiB, 1),
          rss_per_socket_kib: alive > 0 ? r((perSocketFrom - rssBefore) / alive / 1024, 2) : NaN,
          rss_per_socket_nogc_kib: alive > 0 ? r((held - rssBefore) / alive / 1024, 2) : NaN,
          ...perKind,
          open_all_ms: r(openAll, 0),
          connect_p50_ms: c.p50,
          connect_p99_ms: c.p99,
          alive_at_end: alive,
          failures: failed + (ok - alive),
          idle_cpu_pct: r(idleCpu * 100, 2),
        },
        notes,
      };
    });
  } finally {
    await pool.stop();
  }
}

/** Median of three RSS readings 300 ms apart, starting one second after the call (a GC settles). */
async function settledRss(target: Target): Promise<number> {
  await sleep(1000);
  const v: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(300);
    v.push(await serverRss(target));
  }
  return median(v.filter(Number.isFinite));
}

/** Two full GCs a second apart (the second one collects what the first one's finalizers released). */
async function fullGc(target: Target): Promise<boolean> {
  if (!(await collectGarbage(target))) return false;
  await sleep(1000);
  return collectGarbage(target);
}
