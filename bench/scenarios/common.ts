/** What every scenario returns, and the helpers they share. */
import { LoadSampler, openFilesLimit, type LoadReport } from '../lib/machine';
import { edgeCounters, logProblems, rpcMeans, type Target } from '../lib/targets';
import { readFileSync } from 'node:fs';

export type ScenarioName = 'storm' | 'fanout' | 'hold' | 'quiz' | 'bigframe';
export const SCENARIOS: ScenarioName[] = ['storm', 'fanout', 'hold', 'quiz', 'bigframe'];

export interface FigureSpec {
  key: string;
  label: string;
  unit: string;
  /** Which direction is good; ratios are always ours / tuned, this only tells the reader how to read them. */
  better: 'lower' | 'higher' | 'none';
}

export interface ScenarioResult {
  scenario: ScenarioName;
  target: string;
  params: Record<string, unknown>;
  figures: Record<string, number>;
  /** Things that went wrong or look wrong, in words. */
  notes: string[];
  /** Per-step detail a scenario keeps in the JSON line (quiz rounds, per-process memory). */
  details?: Record<string, unknown>;
  load: LoadReport;
  server: {
    logProblems: { count: number; samples: string[] };
    counters: Record<string, number>;
    rpcMeanMs: Record<string, number>;
  };
  startedAt: string;
}

export interface Ctx {
  target: Target;
  say: (line: string) => void;
}

/** Wraps a scenario body with load sampling and the server-side observations. */
export async function measured(
  scenario: ScenarioName,
  ctx: Ctx,
  params: Record<string, unknown>,
  body: (sampler: LoadSampler) => Promise<{ figures: Record<string, number>; notes: string[]; details?: Record<string, unknown> }>,
): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const sampler = new LoadSampler(ctx.target.cpuPids);
  const { figures, notes, details } = await body(sampler);
  const load = sampler.stop();
  const counters = await edgeCounters(ctx.target).catch(() => ({}));
  const rpcMeanMs = await rpcMeans(ctx.target).catch(() => ({}));
  const problems = logProblems(ctx.target);
  if ((counters as Record<string, number>).slowConsumerCloses) notes.push(`server closed ${(counters as Record<string, number>).slowConsumerCloses} slow consumers (4001)`);
  if (problems.count > 0) notes.push(`server logged ${problems.count} warning/error lines: ${problems.samples.slice(0, 3).join(' | ')}`);
  return { scenario, target: ctx.target.name, params, figures, notes, details, load, server: { logProblems: problems, counters, rpcMeanMs }, startedAt };
}

/** Workers needed so no worker holds more sockets than its open-file limit allows (and at least two). */
export function workersFor(clients: number, perWorkerCap = 8000): number {
  const soft = openFilesLimit().soft;
  const cap = Math.max(100, Math.min(perWorkerCap, Number.isFinite(soft) ? soft - 200 : perWorkerCap));
  return Math.max(2, Math.ceil(clients / cap));
}

/** Problems with the open-file limit for holding `sockets` in one server process (null: fine). */
export function fdProblem(sockets: number, serverPid?: number): string | null {
  let { soft, hard } = openFilesLimit();
  let who = 'this shell (inherited by the servers the bench starts)';
  if (serverPid !== undefined) {
    try {
      const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${serverPid}/limits`, 'utf8'));
      if (m) {
        soft = m[1] === 'unlimited' ? Infinity : Number(m[1]);
        hard = m[2] === 'unlimited' ? Infinity : Number(m[2]);
        who = `server pid ${serverPid}`;
      }
    } catch { /* keep ours */ }
  }
  if (Number.isFinite(soft) && sockets + 100 > soft) {
    const want = Math.max(sockets * 2, 65536);
    const how = Number.isFinite(hard) && hard < sockets + 100
      ? `the hard limit is ${hard} too: raise it as root first (limits.conf, systemd LimitNOFILE, docker --ulimit nofile=${want}:${want}), then \`ulimit -n ${want}\``
      : `raise it first: \`ulimit -n ${Math.min(want, Number.isFinite(hard) ? hard : want)}\` in this shell`;
    return `open-file soft limit of ${who} is ${soft}: too low for ${sockets} sockets in one server process `
      + `(needs about ${sockets + 100}); ${how}.`;
  }
  return null;
}

export function r(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function token(): string {
  return Math.random().toString(36).slice(2, 6);
}
