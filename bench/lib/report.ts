/** Ratios to the tuned baseline, the JSON line per run, the console summary and bench/results.md. */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SCENARIOS, type FigureSpec, type ScenarioName, type ScenarioResult } from '../scenarios/common';
import type { MachineFacts } from './machine';

export const BASELINE = 'tuned';

/** ours / tuned for every figure both have (finite, tuned non-zero). */
export function ratios(result: ScenarioResult, tuned: ScenarioResult | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!tuned || result.target === BASELINE) return out;
  for (const [k, v] of Object.entries(result.figures)) {
    const t = tuned.figures[k];
    if (t === undefined || !Number.isFinite(v) || !Number.isFinite(t) || t === 0) continue;
    out[k] = Math.round((v / t) * 1000) / 1000;
  }
  return out;
}

export function jsonLine(result: ScenarioResult, tuned: ScenarioResult | undefined, meta: { commit: string }): string {
  const clean = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number.isFinite(v) ? v : null]));
  return JSON.stringify({
    bench: result.scenario,
    target: result.target,
    commit: meta.commit,
    at: result.startedAt,
    params: result.params,
    figures: clean(result.figures),
    ratio_to_tuned: clean(ratios(result, tuned)),
    load: result.load,
    server: result.server,
    notes: result.notes,
    ...(result.details ? { details: result.details } : {}),
  });
}

export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 1000) return String(Math.round(v));
  if (a >= 100) return v.toFixed(1).replace(/\.0$/, '');
  if (a >= 10) return v.toFixed(2).replace(/\.?0+$/, '');
  return v.toFixed(3).replace(/\.?0+$/, '') || '0';
}

function fmtRatio(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '';
  return ` (${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×)`;
}

/** A markdown table: one row per figure, one column per target, ratio to tuned in brackets. */
export function table(specs: FigureSpec[], results: ScenarioResult[]): string {
  const tuned = results.find((x) => x.target === BASELINE);
  const head = `| figure | ${results.map((x) => x.target).join(' | ')} |`;
  const sep = `|---|${results.map(() => '---:').join('|')}|`;
  // Rows no target has (e.g. the memory of a process kind none of them runs) are left out.
  const rows = specs.filter((s) => results.some((x) => x.figures[s.key] !== undefined)).map((s) => {
    const cells = results.map((x) => {
      const v = x.figures[s.key];
      const rt = ratios(x, tuned)[s.key];
      return `${fmt(v)}${fmtRatio(rt)}`;
    });
    const better = s.better === 'none' ? '' : s.better === 'lower' ? ' ↓' : ' ↑';
    return `| ${s.label}${s.unit ? ` (${s.unit})` : ''}${better} | ${cells.join(' | ')} |`;
  });
  const load = `| load: box busy % before / during, loadavg max, server CPU s, foreign CPU s | ${results.map((x) =>
    `${fmt(x.load.busyBeforePct)} / ${fmt(x.load.boxCpuBusyPct)}, ${fmt(x.load.loadavg1Max)}, ${fmt(x.load.targetCpuSeconds)}, ${fmt(x.load.foreignCpuSeconds)}`).join(' | ')} |`;
  return [head, sep, ...rows, load].join('\n');
}

export function paramsLine(r: ScenarioResult): string {
  const p = r.params;
  switch (r.scenario) {
    case 'storm': return `N=${p.clients} clients, one channel, ${p.inflight} connection attempts in flight, ${p.workers} client workers; `
      + 'connect = upgrade request → open; register = newcomer sent → own newcomer frame back; "all saw final nb_users" counts from the first attempt. '
      + 'The baselines broadcast every nb_users and newcomer to everyone (≈2N frames per client)';
    case 'fanout': return `R=${p.receivers} receivers, ${p.senders} senders, one channel; `
      + (p.rate === undefined ? `saturation search (steps of ${p.stepSeconds} s from ${p.startRate} msg/s, doubling — halving if the first fails — then three geometric bisections; a step passes with no loss or refusal, senders on rate, p99 ≤ ${p.sloP99Ms} ms and no queue building: p90 of the step's second half ≤ max(2×, +100 ms) that of its first half), then ${p.durationSeconds} s at half the saturation rate (each target at half of its own)`
        : `${p.rate} msg/s for ${p.durationSeconds} s`) + `; text padded to ~${Number(p.pad) + 30} chars`;
    case 'hold': return `N=${p.clients} idle sockets in ${p.channels} channel(s) of ≤ ${p.channelSize}, held ${p.seconds} s; RSS per socket = (RSS after a forced full GC with the sockets open − RSS after a forced full GC before, after a warm-up of 5 % of the sockets) ÷ sockets alive, summed over every process of the target (edges, presence, relay, redis-server, nats-server; gischat's uvicorn processes and its redis-server), then per process kind; the GC goes through the V8 inspector the bench enables on every Node process of the target for this scenario (Redis, NATS and Python get none); "no forced GC" = median RSS of the hold's second half − the same "before"`;
    case 'quiz': return `conference quiz: N clients join one channel within ${p.joinSeconds} s (spread evenly) and register, then each sends one answer at a random moment of a ${p.windowSeconds} s window (N messages, N² deliveries); a round passes with no failed join, no loss, no duplicate, nobody dropped and delivery p99 ≤ ${p.sloP99Ms} ms. Search: from N=${p.startN} ×2 until a round fails (≤ ${p.maxN}), then geometric bisection to 10 %; ≤ ${p.maxRounds} rounds and ${p.maxSeconds} s per target; ${p.workers} client workers; join = first connect → all registered and saw nb_users=N (bounded: n/a when it never converged)`;
    case 'bigframe': return `one ${p.width}×${p.height} photo-like PNG of ${p.pngBytes} bytes (as our image transform writes it: the base64 text ≥ ${p.imageBytes} chars, a ~2 MB frame) sent as an image message to R=${p.receivers} receivers in one channel, ${p.frames} time(s) one after the other; "send → last receiver" is from the send to the moment the last receiver had the whole frame; ours and gischat re-encode the PNG (ours gives the same bytes back), the baselines relay it as received with the JSON built once`;
  }
}

export interface Section {
  title: string;
  facts: MachineFacts;
  commit: string;
  dirty: boolean;
  command: string;
  logDir: string;
  loadEnd: [number, number, number];
  durationS: number;
  results: ScenarioResult[];
  skipped: string[];
  specs: Record<ScenarioName, FigureSpec[]>;
}

export function markdownSection(s: Section): string {
  const f = s.facts;
  const out: string[] = [];
  out.push(`## ${s.title}`);
  out.push('');
  out.push(`- Commit: \`${s.commit}\`${s.dirty ? ' (working tree had uncommitted changes)' : ''}; command: \`${s.command}\`; took ${Math.round(s.durationS)} s`);
  out.push(`- Machine: ${f.cpuModel}, ${f.nproc} cores, ${(f.totalMemMiB / 1024).toFixed(1)} GiB RAM, ${f.kernel}, Node ${f.node}; `
    + `open files ${f.openFilesSoft}/${f.openFilesHard} (soft/hard), somaxconn ${f.somaxconn}, ${f.ephemeralPorts} ephemeral ports`);
  out.push(`- Load average (1/5/15 min): ${f.loadavgAtStart.join(' / ')} at start, ${s.loadEnd.join(' / ')} at the end; `
    + 'per run (last table row): box CPU busy % just before the run (other jobs; the bench waits up to 30 s for < 25 %) and during it, '
    + 'highest 1-min load average, CPU seconds of the server processes, and CPU seconds charged to processes that were neither '
    + 'the server nor the bench ("foreign": other jobs on the box — the figures of that run are noisy when it is high)');
  out.push('- Clients, servers and brokers all share this box (loopback): client CPU competes with the server, so absolute '
    + 'figures are lower bounds of the server\'s capacity; compare ratios. Ratio = ours ÷ tuned (↓: lower is better, ↑: higher is better).');
  out.push(`- Server logs of this sitting: \`${s.logDir}\``);
  if (s.skipped.length > 0) out.push(`- Skipped: ${s.skipped.join('; ')}`);
  out.push('');
  for (const scenario of SCENARIOS) {
    const rs = s.results.filter((x) => x.scenario === scenario);
    if (rs.length === 0) continue;
    out.push(`### ${scenario}`);
    out.push('');
    out.push(paramsLine(rs[0]!));
    out.push('');
    out.push(table(s.specs[scenario], rs));
    out.push('');
    const notes = rs.filter((x) => x.notes.length > 0);
    if (notes.length > 0) {
      for (const x of notes) out.push(`- **${x.target}**: ${x.notes.join('; ')}`);
      out.push('');
    }
    const rpc = rs.filter((x) => Object.keys(x.server.rpcMeanMs).length > 0);
    if (rpc.length > 0) {
      for (const x of rpc) {
        out.push(`- ${x.target} internal requests, mean ms: ${Object.entries(x.server.rpcMeanMs).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      }
      out.push('');
    }
  }
  return out.join('\n');
}

const HEADER = `# qchat-server bench results

Written by \`npm run bench\` (bench/run.ts). Each sitting appends a section; older sections are kept.
Scenarios: **storm** (N clients connect and register), **fanout** (R receivers, senders at a rate), **hold**
(N idle sockets, server RSS per socket), **quiz** (largest N where N people joining and answering within 5 s all
get every answer with p99 ≤ 1 s), **bigframe** (a 2 MB PNG to 1,000 receivers). Targets: **tuned** and **naive**
baselines (bench/baselines/, minimal ws servers without a broker), **qchat-aio** (services/all-in-one, in-memory
brokers), **qchat-stack** (Redis + NATS + presence + relay + one edge, separate processes), **qchat-stack-2edge**
(the same with two edges, clients split across them), **gischat** / **gischat-2w** (gischat 3.4.1 with 1 / 2
uvicorn workers and its Redis). RSS of a target = every one of its processes (before the quiz sittings: the edge
process(es) only).
`;

export function appendResults(path: string, section: string): void {
  if (!existsSync(path) || readFileSync(path, 'utf8').trim() === '') writeFileSync(path, `${HEADER}\n`);
  appendFileSync(path, `\n${section}\n`);
}
