/**
 * Private `redis-server` and `nats-server` processes on free loopback ports (never the shared defaults 6379/4222).
 * The global setup uses them when no Docker engine is available; fault tests start their own to stop and
 * restart them (restart on the same port: call start again with `{ port }`).
 */
import { randomUUID } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { freePort, spawnTracked, tail, type Spawned } from './processes';

export interface LocalServer {
  url: string;
  port: number;
  pid: number;
  /** Server output lines, for failure messages. */
  output: string[];
  /** SIGTERM, then waits for the exit. Harmless when already stopped. */
  stop(): Promise<void>;
  /** SIGKILL (a crash), then waits for the exit. Harmless when already stopped. */
  kill(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

interface Kind {
  binary: string;
  scheme: string;
  args(port: number, name: string): string[];
  /**
   * Resolves true when the server on `port` is the one we started (pid for Redis, server name for NATS):
   * with a fixed port, another server may still hold it while ours fails to bind.
   */
  probe(port: number, self: { pid: number; name: string }): Promise<boolean>;
}

const redis: Kind = {
  binary: 'redis-server',
  scheme: 'redis',
  args: (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  probe: (port, self) =>
    talk(port, 'INFO server\r\n', (text) => {
      const m = /process_id:(\d+)\r\n/.exec(text);
      return m ? Number(m[1]) === self.pid : /^-/.test(text) && text.includes('\r\n') ? false : undefined;
    }),
};

const nats: Kind = {
  binary: 'nats-server',
  scheme: 'nats',
  args: (port, name) => ['-a', '127.0.0.1', '-p', String(port), '-n', name],
  probe: (port, self) =>
    talk(port, undefined, (text) => {
      const line = /^INFO (.*)\r\n/.exec(text);
      if (!line) return text.includes('\r\n') ? false : undefined;
      try {
        return (JSON.parse(line[1]!) as { server_name?: string }).server_name === self.name;
      } catch {
        return false;
      }
    }),
};

export function startRedis(opts: { port?: number } = {}): Promise<LocalServer> {
  return start(redis, opts.port);
}

export function startNats(opts: { port?: number } = {}): Promise<LocalServer> {
  return start(nats, opts.port);
}

/** Looks `name` up on PATH and in the sbin directories a non-root PATH often lacks (Debian puts nats-server in /usr/sbin). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

async function start(kind: Kind, fixedPort: number | undefined): Promise<LocalServer> {
  const binary = findBinary(kind.binary);
  if (!binary) throw new MissingProgram(kind.binary);
  // A port picked by freePort() can be taken before the server binds it: pick another, a few times.
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    try {
      return await launch(kind, binary, port);
    } catch (err) {
      if (fixedPort !== undefined || attempt >= 3 || !(err instanceof PortInUse)) throw err;
    }
  }
}

class PortInUse extends Error {}

/** The server program is not installed; the message is the one line to show, so the stack is dropped. */
export class MissingProgram extends Error {
  override name = 'MissingProgram';
  constructor(readonly program: string) {
    super(`${program} not found: install it with 'apt-get install -y ${program}'`);
    this.stack = this.message;
  }
}

async function launch(kind: Kind, binary: string, port: number): Promise<LocalServer> {
  const name = `test-${randomUUID()}`;
  const proc = await spawnTracked(binary, kind.args(port, name));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await kind.probe(port, { pid: proc.pid, name }))) {
    if (!proc.running()) {
      const code = await proc.exited;
      const message = `${kind.binary} on 127.0.0.1:${port} exited with code ${code} before accepting connections:\n${tail(proc.output)}`;
      throw proc.output.some((l) => /address already in use/i.test(l)) ? new PortInUse(message) : new Error(message);
    }
    if (Date.now() > deadline) {
      await proc.signalAndWait('SIGKILL');
      throw new Error(`${kind.binary} on 127.0.0.1:${port} did not accept connections within ${READY_TIMEOUT_MS} ms (killed):\n${tail(proc.output)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return server(kind, port, proc);
}

function server(kind: Kind, port: number, proc: Spawned): LocalServer {
  return {
    url: `${kind.scheme}://127.0.0.1:${port}`,
    port,
    pid: proc.pid,
    output: proc.output,
    stop: async () => { await proc.signalAndWait('SIGTERM'); },
    kill: async () => { await proc.signalAndWait('SIGKILL'); },
  };
}

/** Connects, optionally writes `send`, and reads until `verdict` returns true or false (undefined: read more). */
function talk(port: number, send: string | undefined, verdict: (text: string) => boolean | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let received = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
    socket.once('connect', () => {
      if (send) socket.write(send);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      const ok = verdict(received);
      if (ok !== undefined) finish(ok);
    });
  });
}
