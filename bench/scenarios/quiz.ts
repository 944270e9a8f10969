/**
 * quiz (the conference quiz): N people join one channel within `joinSeconds` (spread evenly) and register a
 * nickname; then every one of them answers once (one text) at a random moment of a `windowSeconds` window:
 * N messages, N² deliveries. A round passes when every answer reaches every member (no loss, no duplicate,
 * nobody dropped, no connect failure) and the p99 delivery latency is ≤ `sloP99Ms`.
 *
 * The figure is the largest passing N, found by search: N grows ×2 from `startN` until a round fails (or
 * `maxN`), then geometric bisection between the last pass and the first fail until they are within 10 %;
 * at most `maxRounds` rounds and `maxSeconds` per target. Each round uses a fresh channel (quiz0, quiz1, …)
 * and fresh clients, spread over several client worker processes so the clients are not the bottleneck.
 * Every wait is bounded: a server that never converges (gischat) ends the round as a failure.
 */
import { Pool, slices } from '../client/pool';
import type { AnswerResult, CollectResult, OpenResult, WaitResult } from '../client/protocol';
import { nowMs, sleep } from '../lib/clock';
import { Histogram, mergeCounts } from '../lib/stats';
import { measured, r, token, type Ctx, type FigureSpec, type ScenarioResult } from './common';
import { fmtCounts } from './storm';

export interface QuizOptions {
  startN: number;
  maxN: number;
  joinSeconds: number;
  windowSeconds: number;
  sloP99Ms: number;
  maxRounds: number;
  maxSeconds: number;
  /** Client worker processes (0: chosen from maxN). */
  workers: number;
}

export const quizFigures: FigureSpec[] = [
  { key: 'largest_n', label: 'largest passing N', unit: '', better: 'higher' },
  { key: 'first_fail_n', label: 'smallest failing N', unit: '', better: 'higher' },
  { key: 'deliveries', label: 'deliveries at largest N (N²)', unit: '', better: 'higher' },
  { key: 'latency_p50_ms', label: 'latency p50 at largest N', unit: 'ms', better: 'lower' },
  { key: 'latency_p99_ms', label: 'latency p99 at largest N', unit: 'ms', better: 'lower' },
  { key: 'latency_max_ms', label: 'latency max at largest N', unit: 'ms', better: 'lower' },
  { key: 'join_ms', label: 'join: all registered and saw nb_users=N', unit: 'ms', better: 'lower' },
  { key: 'rounds', label: 'rounds', unit: '', better: 'none' },
];

/** The channels the rounds use: the targets must know them (our server refuses channels missing from CHANNELS). */
export function quizChannels(maxRounds: number): string[] {
  return Array.from({ length: maxRounds }, (_, i) => `quiz${i}`);
}

export interface RoundOutcome {
  n: number;
  pass: boolean;
  why: string;
  connected: number;
  connectFailed: number;
  joinMs: number;
  registered: boolean;
  sent: number;
  expected: number;
  unique: number;
  loss: number;
  duplicates: number;
  closed: number;
  p50: number;
  p99: number;
  max: number;
  answerLateMsMax: number;
}

export function quizWorkers(maxN: number, asked: number): number {
  if (asked > 0) return Math.max(1, Math.floor(asked));
  return Math.max(2, Math.min(4, Math.ceil(maxN / 500)));
}

/** The next N of the search, or null when it is over. */
export function nextN(passes: number[], fails: number[], opts: Pick<QuizOptions, 'startN' | 'maxN'>): number | null {
  const lo = passes.length > 0 ? Math.max(...passes) : 0;
  const hi = fails.length > 0 ? Math.min(...fails) : Infinity;
  if (passes.length === 0 && fails.length === 0) return Math.min(opts.startN, opts.maxN);
  if (hi === Infinity) {
    if (lo >= opts.maxN) return null;
    return Math.min(opts.maxN, lo * 2);
  }
  if (lo === 0) {
    // The first round failed: go down by halves (at least 2 clients).
    const n = Math.floor(hi / 2);
    return n >= 2 ? n : null;
  }
  if (hi / lo <= 1.1 || hi - lo <= 1) return null;
  const n = Math.round(Math.sqrt(lo * hi));
  return n > lo && n < hi ? n : null;
}

export async function quiz(ctx: Ctx, opts: QuizOptions): Promise<ScenarioResult> {
  const pool = await Pool.start(quizWorkers(opts.maxN, opts.workers));
  const channels = quizChannels(opts.maxRounds);
  try {
    return await measured('quiz', ctx, { ...opts, workers: pool.size, edges: ctx.target.bases.length }, async () => {
      const notes: string[] = [];
      const rounds: RoundOutcome[] = [];
      const deadline = nowMs() + opts.maxSeconds * 1000;
      const passes: number[] = [];
      const fails: number[] = [];
      for (let i = 0; i < opts.maxRounds; i++) {
        const n = nextN(passes, fails, opts);
        if (n === null) break;
        // A round takes about join + window + a few seconds of settling; do not start one that cannot end in time.
        const roundBudget = (opts.joinSeconds * 2 + opts.windowSeconds + 20) * 1000;
        if (i > 0 && nowMs() + roundBudget > deadline) {
          notes.push(`search stopped after ${i} rounds: the next round (N=${n}) would pass the ${opts.maxSeconds} s budget`);
          break;
        }
        const o = await round(ctx, pool, opts, n, i + 1, channels[i]!);
        rounds.push(o);
        (o.pass ? passes : fails).push(n);
        ctx.say(`quiz round ${i + 1} N=${n}: ${o.pass ? 'PASS' : 'FAIL'}; p50 ${o.p50} p99 ${o.p99} max ${o.max} ms, loss ${o.loss}/${o.expected}, `
          + `dup ${o.duplicates}, join ${Number.isFinite(o.joinMs) ? `${r(o.joinMs, 0)} ms` : 'never converged'}, answers up to ${o.answerLateMsMax} ms late`
          + `${o.pass ? '' : ` → ${o.why}`}`);
      }
      const best = rounds.filter((o) => o.pass).sort((a, b) => b.n - a.n)[0];
      const firstFail = rounds.filter((o) => !o.pass).sort((a, b) => a.n - b.n)[0];
      notes.unshift(`rounds: ${rounds.map((o) => `N=${o.n} ${o.pass ? 'pass' : 'FAIL'} (p50/p99/max ${fmtMs(o.p50)}/${fmtMs(o.p99)}/${fmtMs(o.max)} ms, `
        + `loss ${o.loss}, join ${Number.isFinite(o.joinMs) ? `${r(o.joinMs / 1000, 1)} s` : 'n/a'}${o.pass ? '' : `: ${o.why}`})`).join('; ')}`);
      if (!best) notes.push('no round passed');
      if (best && best.n >= opts.maxN) notes.push(`the largest N passed the search bound --quiz-max-n ${opts.maxN}: the real figure is higher`);
      return {
        figures: {
          largest_n: best?.n ?? 0,
          first_fail_n: firstFail?.n ?? NaN,
          deliveries: best ? best.n * best.n : 0,
          latency_p50_ms: best?.p50 ?? NaN,
          latency_p99_ms: best?.p99 ?? NaN,
          latency_max_ms: best?.max ?? NaN,
          join_ms: best ? r(best.joinMs, 0) : NaN,
          rounds: rounds.length,
        },
        notes,
        details: { rounds },
      };
    });
  } finally {
    await pool.stop();
  }
}

function fmtMs(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v)) : 'n/a';
}

async function round(ctx: Ctx, pool: Pool, opts: QuizOptions, n: number, run: number, channel: string): Promise<RoundOutcome> {
  const tag = `quiz${run}`;
  const parts = slices(n, pool.size);
  const joinMs = opts.joinSeconds * 1000;
  const windowMs = opts.windowSeconds * 1000;
  const nick = `q${token()}_`;
  const t0 = nowMs() + 200;
  try {
    // 1. Joins spread evenly over the join period; each client registers as soon as it is open.
    const opened: OpenResult[] = await pool.all((_, i) => ({
      cmd: 'open', tag, bases: ctx.target.bases, channels: [channel], channelBlock: Number.MAX_SAFE_INTEGER,
      from: parts[i]![0], count: parts[i]![1], nickPrefix: nick, inflight: 1, handshakeTimeoutMs: 10_000,
      spread: { startAt: t0, spreadMs: joinMs, of: n },
    }), joinMs + 30_000);
    const connected = opened.reduce((a, o) => a + o.opened, 0);
    const connectFailed = opened.reduce((a, o) => a + o.failed, 0);
    const errors: Record<string, number> = {};
    for (const o of opened) mergeCounts(errors, o.errors);
    // 2. Until everyone registered and saw nb_users = N (bounded: a server may never converge).
    const convergeMs = Math.max(5000, joinMs);
    const waited: WaitResult[] = await pool.all(() => ({
      cmd: 'wait', tag, nbAtLeast: n, registered: true, quietMs: 300, timeoutMs: convergeMs,
    }), convergeMs + 10_000);
    const converged = waited.every((w) => w.satisfied) && connected === n;
    const reached = Math.max(...waited.map((w) => w.nbReachedMax));
    const joinTook = converged && reached > 0 ? reached - t0 : NaN;
    const missingReg = waited.reduce((a, w) => a + w.missingReg, 0);
    // 3. Every member answers once within the window.
    await pool.all(() => ({ cmd: 'track', tag, run, senders: n, maxPerSender: 1 }), 30_000);
    const startAt = nowMs() + 300;
    const answers: AnswerResult[] = await pool.all(() => ({ cmd: 'answer', tag, run, startAt, windowMs, seed: run }), windowMs + 30_000);
    const sent = answers.reduce((a, x) => a + x.sent, 0);
    // 4. Deliveries: wait for completeness, at most the SLO past the window (later ones fail the round anyway) + slack.
    const collected: CollectResult[] = await pool.all(() => ({
      cmd: 'collect', tag, run, expectedPerReceiver: sent, quietMs: 1000, maxWaitMs: opts.sloP99Ms + 2000,
    }), opts.sloP99Ms + 20_000);
    const latency = new Histogram();
    let receivers = 0, unique = 0, dups = 0, closed = 0;
    const closes: Record<string, number> = {};
    const uncompliant: Record<string, number> = {};
    for (const c of collected) {
      latency.merge(c.latency);
      receivers += c.receivers;
      unique += c.unique;
      dups += c.duplicates;
      closed += c.closedDuringRun;
      mergeCounts(closes, c.closes);
      mergeCounts(uncompliant, c.uncompliant);
    }
    const expected = sent * (receivers + closed);
    const loss = Math.max(0, expected - unique);
    const lat = latency.summary();
    const why: string[] = [];
    if (connectFailed > 0) why.push(`${connectFailed} joins failed (${fmtCounts(errors, 2)})`);
    if (!converged) why.push(`join never converged within ${r(convergeMs / 1000, 0)} s after the joins (${missingReg} registrations unconfirmed)`);
    if (sent < n) why.push(`${n - sent} answers not sent (client closed)`);
    if (loss > 0) why.push(`${loss} of ${expected} deliveries missing`);
    if (dups > 0) why.push(`${dups} duplicates`);
    if (closed > 0) why.push(`${closed} members dropped (${fmtCounts(closes, 2)})`);
    if (Object.keys(uncompliant).length > 0) why.push(`uncompliant: ${fmtCounts(uncompliant, 2)}`);
    if (!(lat.p99 <= opts.sloP99Ms)) why.push(`p99 ${lat.p99} ms > ${opts.sloP99Ms} ms`);
    const lateMax = Math.max(...answers.map((a) => a.lateMsMax));
    // Latency counts from the real send, so a late answer does not inflate it; only a client so far behind that the
    // answers no longer fall within the window (by more than the SLO) makes the round unmeasurable.
    if (lateMax > opts.sloP99Ms) why.push(`client side behind: an answer left ${r(lateMax, 0)} ms after its moment`);
    return {
      n, pass: why.length === 0, why: why.join('; '), connected, connectFailed, joinMs: joinTook, registered: missingReg === 0,
      sent, expected, unique, loss, duplicates: dups, closed, p50: lat.p50, p99: lat.p99, max: lat.max, answerLateMsMax: r(lateMax, 1),
    };
  } finally {
    await pool.all(() => ({ cmd: 'close', tag }), 30_000).catch(() => undefined);
    // Let the server finish the departures (nb_users storms) before the next round.
    await pool.all(() => ({ cmd: 'quiet', quietMs: 500, timeoutMs: 10_000 }), 20_000).catch(() => undefined);
    await sleep(500);
  }
}
