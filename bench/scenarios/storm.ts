/**
 * storm: N clients connect to one channel and register unique nicknames, as fast as `inflight` allows.
 * Connect latency (upgrade sent → open), registration latency (newcomer sent → own newcomer broadcast back),
 * failures, time from the first attempt until every client has seen the final nb_users, frames per client.
 */
import { Pool, slices } from '../client/pool';
import { nowMs } from '../lib/clock';
import { Histogram, mergeAggregates, emptyAggregate, mergeCounts, aggregateSummary } from '../lib/stats';
import { measured, r, token, workersFor, type Ctx, type FigureSpec, type ScenarioResult } from './common';

export interface StormOptions {
  clients: number;
  channel: string;
  /** Connection attempts in flight at once, over all workers. */
  inflight: number;
  timeoutSeconds: number;
}

export const stormFigures: FigureSpec[] = [
  { key: 'connect_p50_ms', label: 'connect p50', unit: 'ms', better: 'lower' },
  { key: 'connect_p99_ms', label: 'connect p99', unit: 'ms', better: 'lower' },
  { key: 'connect_max_ms', label: 'connect max', unit: 'ms', better: 'lower' },
  { key: 'register_p50_ms', label: 'register p50', unit: 'ms', better: 'lower' },
  { key: 'register_p99_ms', label: 'register p99', unit: 'ms', better: 'lower' },
  { key: 'register_max_ms', label: 'register max', unit: 'ms', better: 'lower' },
  { key: 'failures', label: 'failures', unit: '', better: 'lower' },
  { key: 'all_saw_final_ms', label: 'all saw final nb_users', unit: 'ms', better: 'lower' },
  { key: 'frames_per_client_mean', label: 'frames/client mean', unit: '', better: 'none' },
  { key: 'frames_per_client_max', label: 'frames/client max', unit: '', better: 'none' },
  { key: 'server_cpu_s', label: 'server CPU', unit: 's', better: 'lower' },
];

export async function storm(ctx: Ctx, opts: StormOptions): Promise<ScenarioResult> {
  const n = opts.clients;
  const pool = await Pool.start(workersFor(n));
  try {
    return await measured('storm', ctx, { ...opts, workers: pool.size }, async (sampler) => {
      const notes: string[] = [];
      const parts = slices(n, pool.size);
      const perWorkerInflight = Math.max(1, Math.ceil(opts.inflight / pool.size));
      const prefix = `s${token()}_`;
      const timeoutMs = opts.timeoutSeconds * 1000;
      ctx.say(`storm: ${n} clients over ${pool.size} workers, ${opts.inflight} attempts in flight, channel '${opts.channel}'`);
      const t0 = nowMs();
      const opened = await pool.all((_, i) => ({
        cmd: 'open', tag: 'storm', bases: ctx.target.bases, channels: [opts.channel], channelBlock: Number.MAX_SAFE_INTEGER,
        from: parts[i]![0], count: parts[i]![1], nickPrefix: prefix, inflight: perWorkerInflight, handshakeTimeoutMs: 20_000,
      }), timeoutMs);
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
      const allOpenAt = Math.max(...opened.map((o) => o.endedAt));
      ctx.say(`storm: ${ok} open, ${failed} failed after ${r(allOpenAt - t0, 0)} ms; waiting for nb_users=${ok} everywhere`);
      const remaining = Math.max(5000, timeoutMs - (nowMs() - t0));
      const waited = await pool.all(() => ({
        cmd: 'wait', tag: 'storm', nbAtLeast: ok, registered: true, quietMs: 500, timeoutMs: remaining,
      }), remaining + 10_000);
      const reg = new Histogram();
      let frames = emptyAggregate();
      const uncompliant: Record<string, number> = {};
      const closes: Record<string, number> = {};
      let missingNb = 0;
      let missingReg = 0;
      let refused = 0;
      let lastBelow = 0;
      let reachedMax = 0;
      let stillOpen = 0;
      for (const w of waited) {
        reg.merge(w.registration);
        frames = mergeAggregates(frames, w.frames);
        mergeCounts(uncompliant, w.uncompliant);
        mergeCounts(closes, w.closes);
        missingNb += w.missingNb;
        missingReg += w.missingReg;
        refused += w.regRefused;
        lastBelow += w.nbLastBelowMax;
        stillOpen += w.open;
        reachedMax = Math.max(reachedMax, w.nbReachedMax);
      }
      const serverCpu = sampler.targetCpu();
      await pool.all(() => ({ cmd: 'close', tag: 'storm' }), 30_000);
      const closedEarly = ok - stillOpen;
      if (failed > 0) notes.push(`${failed} connections failed: ${fmtCounts(errors)}`);
      if (missingNb > 0) notes.push(`${missingNb} clients never saw nb_users=${ok}`);
      if (missingReg > 0) notes.push(`${missingReg} registrations not confirmed within ${opts.timeoutSeconds} s`);
      if (refused > 0) notes.push(`${refused} registrations refused`);
      if (closedEarly > 0) notes.push(`${closedEarly} sockets closed by the server during the storm: codes ${fmtCounts(closes)}`);
      if (lastBelow > 0) notes.push(`${lastBelow} clients ended with an nb_users lower than one they had seen (frames out of order)`);
      if (Object.keys(uncompliant).length > 0) notes.push(`uncompliant replies: ${fmtCounts(uncompliant)}`);
      const c = connect.summary();
      const g = reg.summary();
      const f = aggregateSummary(frames);
      const figures = {
        clients: n,
        connected: ok,
        connect_p50_ms: c.p50, connect_p99_ms: c.p99, connect_max_ms: c.max,
        register_p50_ms: g.p50, register_p99_ms: g.p99, register_max_ms: g.max,
        registered: g.count,
        failures: failed + missingReg + refused + closedEarly,
        all_saw_final_ms: missingNb === 0 && reachedMax > 0 ? r(reachedMax - t0, 1) : NaN,
        all_open_ms: r(allOpenAt - t0, 1),
        frames_per_client_mean: f.mean, frames_per_client_min: f.min, frames_per_client_max: f.max,
        nb_last_below_max: lastBelow,
        server_cpu_s: r(serverCpu, 2),
      };
      return { figures, notes };
    });
  } finally {
    await pool.stop();
  }
}

export function fmtCounts(c: Record<string, number>, max = 4): string {
  return Object.entries(c).sort((a, b) => b[1] - a[1]).slice(0, max).map(([k, v]) => `${v}× ${k}`).join('; ');
}
