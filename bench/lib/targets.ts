/**
 * The servers under test, started by the bench as children on 127.0.0.1 (so it knows their PIDs), or an
 * external URL given on the command line. Every child is tracked by PID and stopped by PID.
 */
import { openSync, closeSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { freePort, httpGet, rssOfPid, spawnTracked, stopPid, tcpReady, waitUntil } from './procs';
import { inspectorCall, type Inspector } from './inspector';
import { startFlags } from '../../tests/support/node-flags';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BENCH = fileURLToPath(new URL('..', import.meta.url));

export type TargetKind = 'tuned' | 'naive' | 'qchat-aio' | 'qchat-stack' | 'qchat-stack-2edge' | 'gischat' | 'gischat-2w' | 'external';
export const TARGET_KINDS: TargetKind[] = ['tuned', 'naive', 'qchat-aio', 'qchat-stack', 'qchat-stack-2edge', 'gischat', 'gischat-2w', 'external'];

/** One process of a target and what it is (hold: memory per process kind). */
export interface MemProc { kind: 'server' | 'edge' | 'presence' | 'relay' | 'redis' | 'nats' | 'gischat'; pid: number }

export interface Target {
  name: TargetKind | string;
  kind: TargetKind;
  /** ws://127.0.0.1:PORT, one per edge. */
  bases: string[];
  /** Processes whose RSS is the server's memory: every process of the target (edges, presence, relay, brokers…). */
  rssPids: number[];
  /** The same processes with their kind, for the per-kind memory columns of hold. */
  memProcs: MemProc[];
  /** Every process of the target (CPU accounting). */
  cpuPids: number[];
  /** Fallback RSS source for an external server without --pid: GET /rss of a baseline. */
  rssUrl?: string;
  /** Server log files, to scan for warnings and errors after a run. */
  logs: { name: string; path: string }[];
  /** Prometheus /metrics URL of each edge (our server only). */
  metricsUrls: string[];
  /** Inspectors of the Node processes when started with `inspect` (hold: a full GC before each RSS reading; heap). */
  inspectors: Inspector[];
  stop(): Promise<void>;
}

let logDir: string | undefined;
export function benchLogDir(): string {
  if (!logDir) {
    logDir = join(tmpdir(), `qchat-bench-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(logDir, { recursive: true });
  }
  return logDir;
}

let started = 0;
function logFile(name: string): { fd: number; path: string } {
  const path = join(benchLogDir(), `${String(++started).padStart(2, '0')}-${name}.log`);
  return { fd: openSync(path, 'a'), path };
}

export interface Proc { pid: number; name: string; alive: () => boolean; log: string; inspectPort?: number }

/** Start options: `inspect` opens the V8 inspector on a loopback port so the bench can force a full GC. */
export interface StartOptions { inspect?: boolean }

export function startProc(name: string, cmd: string, args: string[], env: Record<string, string>): Proc {
  const { fd, path } = logFile(name);
  const { child, t } = spawnTracked(name, cmd, args, {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  return { pid: child.pid!, name, alive: () => !t.exited, log: path };
}

/**
 * Our processes run with the Node flags of their `npm run start:*` script (tests/support/node-flags.ts), as deployed;
 * the baselines with none. BENCH_NODE_FLAGS_<ROLE> (EDGE, PRESENCE, RELAY, ALL_IN_ONE, TUNED, NAIVE) replaces them
 * for an experiment.
 */
function nodeFlags(role: string): string[] {
  const override = process.env[`BENCH_NODE_FLAGS_${role.toUpperCase().replace(/-/g, '_')}`];
  if (override !== undefined) return override.split(' ').filter(Boolean);
  return role === 'tuned' || role === 'naive' ? [] : startFlags(role);
}

async function nodeTs(name: string, role: string, script: string, env: Record<string, string>, inspect = false): Promise<Proc> {
  const inspectPort = inspect ? await freePort() : undefined;
  // BENCH_CPU_PROF=<dir>: every Node process of a target writes V8 CPU profiles (one per thread: the main thread's is
  // the big one, tsx's loader thread has its own) into <dir>/<process name>/ when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/${name}`] : [];
  const args = [...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : []), ...profile, ...nodeFlags(role), '--import', 'tsx', script];
  return { ...startProc(name, process.execPath, args, env), inspectPort };
}

const inspectors = (procs: Proc[]): Inspector[] => procs.flatMap((p) => (p.inspectPort ? [{ name: p.name, port: p.inspectPort }] : []));

export async function stopProcs(procs: Proc[]): Promise<void> {
  // Edges first (they drain and tell presence), then services, then brokers.
  for (const p of [...procs].reverse()) await stopPid(p.pid, 5000);
}

export async function guarded<T>(procs: Proc[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    await stopProcs(procs);
    const tails = procs.map((p) => `--- ${p.name} (${p.log}) ---\n${tail(p.log, 15)}`).join('\n');
    throw new Error(`${(err as Error).message}\n${tails}`);
  }
}

export function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const r = await httpGet(url, 1000);
  return r.status === 200;
}

export async function startBaseline(kind: 'tuned' | 'naive', opts: StartOptions = {}): Promise<Target> {
  const port = await freePort();
  const p = await nodeTs(kind, kind, join(BENCH, 'baselines', `${kind}.ts`), { PORT: String(port), HOST: '127.0.0.1' }, opts.inspect);
  return guarded([p], async () => {
    await waitUntil(kind, () => httpOk(`http://127.0.0.1:${port}/rss`), 30_000, p.alive);
    return {
      name: kind, kind, bases: [`ws://127.0.0.1:${port}`], rssPids: [p.pid], memProcs: [{ kind: 'server', pid: p.pid }], cpuPids: [p.pid],
      rssUrl: `http://127.0.0.1:${port}/rss`, logs: [{ name: kind, path: p.log }], metricsUrls: [], inspectors: inspectors([p]),
      stop: () => stopProcs([p]),
    };
  });
}

/** Settings shared by our server's processes in the bench: loopback, no rate limit in the way, quick shutdown. */
function qchatEnv(channels: string[], instance: string): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    INSTANCE_ID: instance,
    CHANNELS: channels.join(','),
    RATE_LIMIT_PER_SECOND: '100000',
    RATE_LIMIT_BURST: '100000',
    // Above REQUEST_TIMEOUT_MS (default 3000): the services refuse a stop shorter than the requests in flight.
    SHUTDOWN_TIMEOUT_MS: '4000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    NODE_ENV: 'production',
  };
}

export async function startAllInOne(channels: string[], opts: StartOptions = {}): Promise<Target> {
  const port = await freePort();
  const metricsPort = await freePort();
  const p = await nodeTs('qchat-aio', 'all-in-one', 'services/all-in-one/src/main.ts', { ...qchatEnv(channels, `bench${process.pid}`), PORT: String(port), METRICS_PORT: String(metricsPort) }, opts.inspect);
  return guarded([p], async () => {
    await waitUntil('qchat all-in-one', () => httpOk(`http://127.0.0.1:${port}/readyz`), 60_000, p.alive);
    return {
      name: 'qchat-aio', kind: 'qchat-aio', bases: [`ws://127.0.0.1:${port}`], rssPids: [p.pid], memProcs: [{ kind: 'server', pid: p.pid }], cpuPids: [p.pid],
      logs: [{ name: 'all-in-one', path: p.log }], metricsUrls: [`http://127.0.0.1:${metricsPort}/metrics`], inspectors: inspectors([p]),
      stop: () => stopProcs([p]),
    };
  });
}

/** Redis + NATS + presence + relay + `edges` edge processes, all separate, on fresh loopback ports. */
export async function startStack(channels: string[], edges: 1 | 2, opts: StartOptions = {}): Promise<Target> {
  const procs: Proc[] = [];
  return guarded(procs, async () => {
    const redisPort = await freePort();
    const redis = startProc('redis', 'redis-server', [
      '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    ], {});
    procs.push(redis);
    const natsPort = await freePort();
    const nats = startProc('nats', 'nats-server', ['-a', '127.0.0.1', '-p', String(natsPort)], {});
    procs.push(nats);
    await waitUntil('redis-server', () => tcpReady(redisPort), 15_000, redis.alive);
    await waitUntil('nats-server', () => tcpReady(natsPort), 15_000, nats.alive);
    const env = {
      ...qchatEnv(channels, `bench${process.pid}`),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
    };
    const presencePort = await freePort();
    const presence = await nodeTs('presence', 'presence', 'services/presence/src/main.ts', { ...env, METRICS_PORT: String(presencePort) }, opts.inspect);
    procs.push(presence);
    const relayPort = await freePort();
    const relay = await nodeTs('relay', 'relay', 'services/relay/src/main.ts', { ...env, METRICS_PORT: String(relayPort) }, opts.inspect);
    procs.push(relay);
    await waitUntil('presence', () => httpOk(`http://127.0.0.1:${presencePort}/readyz`), 60_000, presence.alive);
    await waitUntil('relay', () => httpOk(`http://127.0.0.1:${relayPort}/readyz`), 60_000, relay.alive);
    const edgeProcs: Proc[] = [];
    const ports: number[] = [];
    const metricsPorts: number[] = [];
    for (let i = 0; i < edges; i++) {
      const port = await freePort();
      const metricsPort = await freePort();
      metricsPorts.push(metricsPort);
      const e = await nodeTs(`edge${i}`, 'edge', 'services/edge/src/main.ts', { ...env, PORT: String(port), METRICS_PORT: String(metricsPort), EDGE_ID: `bench-edge-${i}` }, opts.inspect);
      procs.push(e);
      edgeProcs.push(e);
      ports.push(port);
    }
    for (let i = 0; i < edges; i++) {
      await waitUntil(`edge${i}`, () => httpOk(`http://127.0.0.1:${ports[i]}/readyz`), 60_000, edgeProcs[i]!.alive);
    }
    const name: TargetKind = edges === 1 ? 'qchat-stack' : 'qchat-stack-2edge';
    return {
      name, kind: name, bases: ports.map((p) => `ws://127.0.0.1:${p}`),
      rssPids: procs.map((p) => p.pid), cpuPids: procs.map((p) => p.pid),
      memProcs: procs.map((p) => ({ kind: (p.name.startsWith('edge') ? 'edge' : p.name) as MemProc['kind'], pid: p.pid })),
      logs: procs.map((p) => ({ name: p.name, path: p.log })),
      // Every Node process of the stack: hold forces a GC in presence and relay too.
      metricsUrls: metricsPorts.map((p) => `http://127.0.0.1:${p}/metrics`), inspectors: inspectors(procs),
      stop: () => stopProcs(procs),
    };
  });
}

export function externalTarget(urls: string[], pid: number | undefined): Target {
  const bases = urls.map(baseOf);
  const first = new URL(bases[0]!.replace(/^ws/, 'http'));
  return {
    name: 'external', kind: 'external', bases,
    rssPids: pid ? [pid] : [], memProcs: pid ? [{ kind: 'server', pid }] : [], cpuPids: pid ? [pid] : [],
    rssUrl: `http://${first.host}/rss`, logs: [], metricsUrls: [], inspectors: [],
    stop: async () => undefined,
  };
}

/** ws://host:port from any of ws://host:port, ws://host:port/, ws://host:port/channel/X/ws; loopback only. */
export function baseOf(url: string): string {
  const u = new URL(url);
  if (u.protocol !== 'ws:') throw new Error(`only ws:// URLs are benchmarked (got ${u.protocol}//)`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new Error(`the bench targets loopback only (127.0.0.1, localhost, ::1); refusing ${u.hostname}`);
  }
  return `ws://${u.host}`;
}

/** The channel named in a ws://…/channel/X/ws URL, if any. */
export function channelOf(url: string): string | undefined {
  const m = /\/channel\/([^/]+)\/ws$/.exec(new URL(url).pathname);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** Server memory now: summed VmRSS of the target's PIDs, else GET /rss, else NaN. */
export async function serverRss(target: Target): Promise<number> {
  if (target.rssPids.length > 0) {
    let sum = 0;
    for (const pid of target.rssPids) sum += rssOfPid(pid);
    return sum;
  }
  if (target.rssUrl) {
    try {
      const r = await httpGet(target.rssUrl, 2000);
      if (r.status === 200) return Number((JSON.parse(r.body) as { rss: number }).rss);
    } catch { /* not a baseline */ }
  }
  return NaN;
}

/** RSS now per process kind (bytes, summed over the processes of each kind); NaN for a kind whose RSS is unreadable. */
export function rssByKind(target: Target): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { kind, pid } of target.memProcs) out[kind] = (out[kind] ?? 0) + rssOfPid(pid);
  return out;
}

/** Warning and error lines of the target's logs (pino level >= 40, or plain lines mentioning error). */
export function logProblems(target: Target, max = 8): { count: number; samples: string[] } {
  let count = 0;
  const seen = new Map<string, number>();
  for (const { name, path } of target.logs) {
    let text = '';
    try { text = readFileSync(path, 'utf8'); } catch { continue; }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let key: string | null = null;
      if (line.startsWith('{')) {
        try {
          const j = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
          if ((j.level ?? 0) >= 40) key = `${name}: ${j.msg ?? ''}${j.err?.message ? ` (${j.err.message.slice(0, 120)})` : ''}`;
        } catch { /* not JSON */ }
      } else if (/error|warn|fatal|exception/i.test(line) && !/listening|overcommit|Transparent Huge|THP/i.test(line)) {
        key = `${name}: ${line.slice(0, 160)}`;
      }
      if (key !== null) {
        count++;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    }
  }
  const samples = [...seen.entries()].sort((a, b) => b[1] - a[1]).slice(0, max).map(([k, n]) => `${n}× ${k}`);
  return { count, samples };
}

/** A few counters from our edges' /metrics (summed over edges): what the server itself saw. */
export async function edgeCounters(target: Target): Promise<Record<string, number>> {
  const wanted: [string, RegExp][] = [
    ['slowConsumerCloses', /^qchat_edge_slow_consumer_closes_total(?:\{[^}]*\})?\s+(\S+)/],
    ['rateLimited', /^qchat_edge_frames_received_total\{[^}]*outcome="rate_limited"[^}]*\}\s+(\S+)/],
    ['uncompliantIn', /^qchat_edge_frames_received_total\{[^}]*outcome="uncompliant"[^}]*\}\s+(\S+)/],
    ['refusedUpgrades', /^qchat_edge_upgrades_refused_total\{[^}]*\}\s+(\S+)/],
    ['rpcErrors', /^qchat_bus_request_duration_seconds_count\{[^}]*outcome="(?!ok")[^"]*"[^}]*\}\s+(\S+)/],
  ];
  const out: Record<string, number> = {};
  for (const text of await metricsTexts(target)) {
    for (const line of text.split('\n')) {
      for (const [k, re] of wanted) {
        const m = re.exec(line);
        if (m) out[k] = (out[k] ?? 0) + Number(m[1]);
      }
    }
  }
  return out;
}

/** The /metrics text of each of the target's processes that answers. */
async function metricsTexts(target: Target): Promise<string[]> {
  const texts: string[] = [];
  for (const url of target.metricsUrls) {
    try {
      const r = await httpGet(url, 5000);
      if (r.status === 200) texts.push(r.body);
    } catch { /* a process that does not answer contributes nothing */ }
  }
  return texts;
}

/** Mean duration of each internal request kind at the edge(s), from the Prometheus histogram (ms). */
export async function rpcMeans(target: Target): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  const counts: Record<string, number> = {};
  for (const text of await metricsTexts(target)) {
    for (const line of text.split('\n')) {
      const m = /^qchat_bus_request_duration_seconds_(sum|count)\{(?:[^}]*,)?op="([^"]+)"[^}]*outcome="ok"[^}]*\}\s+(\S+)/.exec(line)
        ?? /^qchat_bus_request_duration_seconds_(sum|count)\{[^}]*outcome="ok",(?:[^}]*,)?op="([^"]+)"[^}]*\}\s+(\S+)/.exec(line);
      if (!m) continue;
      const into = m[1] === 'sum' ? sums : counts;
      into[m[2]!] = (into[m[2]!] ?? 0) + Number(m[3]);
    }
  }
  const out: Record<string, number> = {};
  for (const k of Object.keys(counts)) if (counts[k]! > 0) out[k] = Math.round((sums[k]! / counts[k]!) * 1e6) / 1e3;
  return out;
}

/**
 * A full V8 garbage collection in each RSS process, through its inspector (HeapProfiler.collectGarbage), so RSS
 * readings compare live memory rather than how much garbage happened to be around. False when not possible.
 */
export async function collectGarbage(target: Target): Promise<boolean> {
  if (target.inspectors.length === 0) return false;
  for (const { port } of target.inspectors) await inspectorCall(port, 'HeapProfiler.collectGarbage', {}, undefined, 20_000);
  return true;
}
