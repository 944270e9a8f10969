/** Parent side of the client workers: forks them, sends commands, gathers replies, kills them by PID. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopPid, track } from '../lib/procs';
import type { Command, Reply, Results } from './protocol';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class Worker {
  private seq = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;

  private constructor(readonly index: number, readonly child: ChildProcess) {
    child.on('message', (msg: Reply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`worker ${index}: ${msg.error}`));
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`worker ${index} exited (code ${code}, signal ${signal})`));
      }
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static start(index: number): Promise<Worker> {
    const child = fork(WORKER, [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    track(`worker-${index}`, child);
    const w = new Worker(index, child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${index} did not start within 30 s`)), 30_000);
      w.pending.set(0, {
        resolve: () => { clearTimeout(timer); resolve(w); },
        reject: (e) => { clearTimeout(timer); reject(e); },
        timer,
      });
    });
  }

  call<C extends Command>(command: C, timeoutMs: number): Promise<Results[C['cmd']]> {
    if (this.exited) return Promise.reject(new Error(`worker ${this.index} has exited`));
    const id = this.seq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${this.index}: '${command.cmd}' got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ ...command, id });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.disconnect();
    await stopPid(this.pid, 3000);
  }
}

export class Pool {
  private constructor(readonly workers: Worker[]) {}

  static async start(n: number): Promise<Pool> {
    const workers = await Promise.all(Array.from({ length: n }, (_, i) => Worker.start(i)));
    return new Pool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  /** The same kind of command to every worker, built per worker (slices). */
  all<C extends Command>(build: (w: Worker, i: number) => C | null, timeoutMs: number): Promise<Results[C['cmd']][]> {
    const calls: Promise<Results[C['cmd']]>[] = [];
    this.workers.forEach((w, i) => {
      const c = build(w, i);
      if (c) calls.push(w.call(c, timeoutMs));
    });
    return Promise.all(calls);
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}

/** Splits n clients into `parts` contiguous slices: [from, count] each. */
export function slices(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  let from = 0;
  for (let i = 0; i < parts; i++) {
    const count = Math.floor(n / parts) + (i < n % parts ? 1 : 0);
    out.push([from, count]);
    from += count;
  }
  return out;
}
