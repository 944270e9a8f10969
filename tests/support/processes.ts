/**
 * Real child processes for integration tests: services started from their entry point with tsx, and the
 * bookkeeping every spawned child shares (free ports, captured output, waiting for exit, no orphans).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A port that was free on 127.0.0.1 a moment ago (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

// Children still running when this process exits (crash, Ctrl-C) are killed, so no test leaves servers behind.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

export interface Spawned {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr lines, in arrival order (for failure messages). */
  output: string[];
  /** Exit code, or null when a signal ended the process. Never rejects. */
  exited: Promise<number | null>;
  /** Sends `signal` (if still running) and waits for the exit. */
  signalAndWait(signal: NodeJS.Signals): Promise<number | null>;
  running(): boolean;
}

/** Spawns `command`, capturing its output; rejects if it cannot be started (ENOENT and the like). */
export function spawnTracked(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => output.push(line));
    }
    let done = false;
    const exited = new Promise<number | null>((res) => {
      child.once('exit', (code) => {
        done = true;
        res(code);
      });
    });
    child.once('error', (err) => {
      done = true;
      reject(err);
    });
    child.once('spawn', () => {
      const pid = child.pid!;
      trackChild(child);
      resolve({
        child,
        pid,
        output,
        exited,
        running: () => !done,
        signalAndWait: async (signal) => {
          if (!done) child.kill(signal);
          return exited;
        },
      });
    });
  });
}

/** Renders the last lines of captured output for an error message. */
export function tail(output: string[], lines = 40): string {
  const shown = output.slice(-lines);
  return shown.length ? shown.map((l) => `  | ${l}`).join('\n') : '  | (no output)';
}

export type ServiceName = 'edge' | 'presence' | 'relay' | 'bridge' | 'all-in-one';

export interface ServiceProcess {
  pid: number;
  /** The HTTP port readiness was checked on (PORT for edge and all-in-one, METRICS_PORT otherwise). */
  port?: number;
  /** The ops port: /healthz, /readyz, /metrics (METRICS_PORT; for edge and all-in-one a free one unless given). */
  metricsPort: number;
  output: string[];
  /** Sends `signal` and resolves with the exit code (null when the signal itself ended the process). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill9(): Promise<void>;
  exited: Promise<number | null>;
}

const READY_TIMEOUT_MS = 20_000;

async function isReady(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts `services/<name>/src/main.ts` as a real process and resolves once its /readyz answers 200.
 * The caller passes free ports: PORT for edge and all-in-one, METRICS_PORT for presence and relay.
 */
export async function startService(name: ServiceName, env: Record<string, string>): Promise<ServiceProcess> {
  const portVar = name === 'edge' || name === 'all-in-one' ? 'PORT' : 'METRICS_PORT';
  const port = Number(env[portVar]);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error(`startService(${name}): pass ${portVar} (a free port, see freePort()) in env; got '${env[portVar]}'`);
  }
  // Edges serve /metrics on their own ops port: a free one, so several edges can run side by side.
  const metricsPort = portVar === 'PORT' ? Number(env.METRICS_PORT ?? (await freePort())) : port;
  const proc = await spawnTracked(process.execPath, ['--import', 'tsx', `services/${name}/src/main.ts`], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, METRICS_PORT: String(metricsPort) },
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await isReady(port))) {
    if (!proc.running()) {
      const code = await proc.exited;
      throw new Error(`${name} exited with code ${code} before /readyz on port ${port} answered 200:\n${tail(proc.output)}`);
    }
    if (Date.now() > deadline) {
      await proc.signalAndWait('SIGKILL');
      throw new Error(`${name} not ready on port ${port} within ${READY_TIMEOUT_MS} ms (killed):\n${tail(proc.output)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: proc.pid,
    port,
    metricsPort,
    output: proc.output,
    exited: proc.exited,
    stop: (signal = 'SIGTERM') => proc.signalAndWait(signal),
    kill9: async () => { await proc.signalAndWait('SIGKILL'); },
  };
}
