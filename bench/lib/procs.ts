/**
 * Children of the bench (servers, brokers, client workers): every one is registered by PID and killed by
 * PID at the end, on error, on Ctrl-C, or when the global watchdog fires. Never a kill by name.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from './clock';

interface Tracked { name: string; child: ChildProcess; exited: boolean; onExit: Promise<void> }
const tracked = new Map<number, Tracked>();

export function track(name: string, child: ChildProcess): Tracked {
  if (child.pid === undefined) throw new Error(`${name}: spawn failed (no pid)`);
  let resolveExit!: () => void;
  const t: Tracked = { name, child, exited: false, onExit: new Promise<void>((r) => { resolveExit = r; }) };
  const done = () => { t.exited = true; tracked.delete(child.pid!); resolveExit(); };
  child.once('exit', done);
  child.once('error', done);
  tracked.set(child.pid, t);
  return t;
}

export function spawnTracked(name: string, cmd: string, args: string[], opts: SpawnOptions): { child: ChildProcess; t: Tracked } {
  const child = spawn(cmd, args, opts);
  const t = track(name, child);
  return { child, t };
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
export async function stopPid(pid: number, graceMs = 4000): Promise<void> {
  const t = tracked.get(pid);
  if (!t) return;
  try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
  const killed = await Promise.race([t.onExit.then(() => true), sleep(graceMs).then(() => false)]);
  if (!killed) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    await Promise.race([t.onExit, sleep(2000)]);
  }
  tracked.delete(pid);
}

/** Kills every tracked child by PID (used on exit paths; synchronous SIGKILL as a last resort). */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...tracked.keys()].map((pid) => stopPid(pid, graceMs)));
}

export function killAllNow(): void {
  for (const pid of [...tracked.keys()]) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  tracked.clear();
}

export function trackedPids(): number[] {
  return [...tracked.keys()];
}

/** A free TCP port on 127.0.0.1 (the kernel picks; there is a tiny race until the child binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function tcpReady(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
  });
}

export function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls until check() is true, the process died, or timeoutMs passed. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, alive?: () => boolean): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (alive && !alive()) throw new Error(`${what}: process exited before it was ready`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms`);
}

/** Resident set size of a process, in bytes, from /proc/<pid>/status (VmRSS); NaN when unreadable. */
export function rssOfPid(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

const CLK_TCK = 100;
/** CPU seconds (user + system) used so far by a process, from /proc/<pid>/stat; NaN when unreadable. */
export function cpuSecondsOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: state(3) ... utime(14) stime(15) → indexes 11 and 12 here.
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** PIDs whose parent is `pid` (from /proc/<n>/stat), e.g. the workers a uvicorn supervisor spawned. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try { entries = readdirSync('/proc'); } catch { return out; }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** The command line of a live process ('' when gone): to check a PID is still the process we started. */
export function cmdlineOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return ''; }
}
