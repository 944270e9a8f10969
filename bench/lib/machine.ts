/** Facts about the box and the sitting: CPU, memory, open-file limit, commit, and the load while we ran. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { cpuSecondsOfPid, trackedPids } from './procs';

export interface MachineFacts {
  cpuModel: string;
  nproc: number;
  totalMemMiB: number;
  kernel: string;
  node: string;
  openFilesSoft: number;
  openFilesHard: number;
  somaxconn: number;
  ephemeralPorts: number;
  loadavgAtStart: [number, number, number];
}

export function openFilesLimit(): { soft: number; hard: number } {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    const n = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(m?.[1]), hard: n(m?.[2]) };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

function readNumber(path: string): number {
  try { return Number(readFileSync(path, 'utf8').trim().split(/\s+/)[0]); } catch { return NaN; }
}

function ephemeralPorts(): number {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return hi! - lo! + 1;
  } catch { return NaN; }
}

export function machineFacts(): MachineFacts {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch { /* keep os.cpus() */ }
  const files = openFilesLimit();
  const la = os.loadavg();
  return {
    cpuModel,
    nproc: os.availableParallelism(),
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    openFilesSoft: files.soft,
    openFilesHard: files.hard,
    somaxconn: readNumber('/proc/sys/net/core/somaxconn'),
    ephemeralPorts: ephemeralPorts(),
    loadavgAtStart: [la[0]!, la[1]!, la[2]!].map((v) => Math.round(v * 100) / 100) as [number, number, number],
  };
}

export function gitCommit(cwd: string): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', timeout: 5000 }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', timeout: 5000 }).trim();
    return { commit, dirty: status !== '' };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

/** Busy and total CPU time of the whole box so far, in seconds, from /proc/stat. */
function boxCpu(): { busy: number; total: number; process: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    // user + nice + system: the part charged to processes (irq/softirq of loopback traffic is not).
    const processTime = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0);
    return { busy: (total - idle) / 100, total: total / 100, process: processTime / 100 };
  } catch {
    return { busy: NaN, total: NaN, process: NaN };
  }
}

export interface LoadReport {
  seconds: number;
  loadavg1Max: number;
  /** Share of all cores busy during the run, 0..100. */
  boxCpuBusyPct: number;
  /** CPU seconds used by the target's processes and by the bench itself (workers + this process). */
  targetCpuSeconds: number;
  benchCpuSeconds: number;
  /**
   * CPU seconds charged to processes that are neither the target nor the bench during the run (other jobs on
   * the box): a noise indicator. Approximate: a process charged at 10 ms ticks, and interrupts excluded.
   */
  foreignCpuSeconds: number;
  /** Busy share of the box just before the target started (other jobs), and how long we waited for calm. */
  busyBeforePct?: number;
  waitedForCalmS?: number;
}

/**
 * Samples the load while one scenario runs against one target: load average every second, and CPU time
 * of the box, of the target's PIDs and of our own processes between start and stop.
 */
export class LoadSampler {
  private readonly timer: NodeJS.Timeout;
  private loadMax: number;
  private readonly t0 = Date.now();
  private readonly box0 = boxCpu();
  private readonly target0: number;
  private readonly bench0: number;

  constructor(private readonly targetPids: number[]) {
    this.loadMax = os.loadavg()[0]!;
    this.target0 = this.cpuOf(targetPids);
    this.bench0 = this.benchCpu();
    this.timer = setInterval(() => { this.loadMax = Math.max(this.loadMax, os.loadavg()[0]!); }, 1000);
    this.timer.unref();
  }

  private cpuOf(pids: number[]): number {
    let s = 0;
    for (const pid of pids) {
      const c = cpuSecondsOfPid(pid);
      if (Number.isFinite(c)) s += c;
    }
    return s;
  }

  private benchCpu(): number {
    const own = process.cpuUsage();
    const workers = trackedPids().filter((p) => !this.targetPids.includes(p));
    return (own.user + own.system) / 1e6 + this.cpuOf(workers);
  }

  /** CPU seconds the target used since the sampler started. */
  targetCpu(): number {
    return this.cpuOf(this.targetPids) - this.target0;
  }

  stop(): LoadReport {
    clearInterval(this.timer);
    const seconds = (Date.now() - this.t0) / 1000;
    const box1 = boxCpu();
    const busy = box1.busy - this.box0.busy;
    const total = box1.total - this.box0.total;
    const processTime = box1.process - this.box0.process;
    const target = this.targetCpu();
    // Workers that exited during the run are not counted here; they live as long as a scenario does.
    const bench = Math.max(0, this.benchCpu() - this.bench0);
    const r2 = (v: number) => Math.round(v * 100) / 100;
    return {
      seconds: r2(seconds),
      loadavg1Max: r2(Math.max(this.loadMax, os.loadavg()[0]!)),
      boxCpuBusyPct: total > 0 ? r2((busy / total) * 100) : NaN,
      targetCpuSeconds: r2(target),
      benchCpuSeconds: r2(bench),
      foreignCpuSeconds: r2(Math.max(0, processTime - target - bench)),
    };
  }
}

/** Share of the box's CPU busy over `ms` (0..100). */
export async function boxBusyPct(ms: number): Promise<number> {
  const a = boxCpu();
  await new Promise((r) => setTimeout(r, ms));
  const b = boxCpu();
  const total = b.total - a.total;
  return total > 0 ? ((b.busy - a.busy) / total) * 100 : NaN;
}

/**
 * Other people's jobs share this box. Before a run (nothing of ours busy), wait until the box is mostly idle,
 * at most maxWaitS; returns the last busy share seen and how long we waited.
 */
export async function waitForQuietBox(maxBusyPct: number, maxWaitS: number, say: (s: string) => void): Promise<{ busyPct: number; waitedS: number }> {
  const t0 = Date.now();
  let busy = await boxBusyPct(1000);
  let told = false;
  while (busy > maxBusyPct && Date.now() - t0 < maxWaitS * 1000) {
    if (!told) say(`box is ${Math.round(busy)}% busy with other jobs; waiting up to ${maxWaitS} s for it to calm down`);
    told = true;
    busy = await boxBusyPct(2000);
  }
  return { busyPct: Math.round(busy), waitedS: Math.round((Date.now() - t0) / 1000) };
}
