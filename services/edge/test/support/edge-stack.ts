/**
 * The whole stack in this process for fast tests of the edge: the real edge (gateway, hub, handlers), presence and
 * relay, over the in-memory broker and requester (as `npm start` without REDIS_URL and NATS_URL), with real
 * WebSocket clients on an ephemeral loopback port. No child processes; a stack starts in milliseconds.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { startStack } from '@qchat/all-in-one';
import { connectBackends, type Backends, type Requester, type Responder, type Unsubscribe } from '@qchat/bus';
import { encodeEnvelope, type Route } from '@qchat/protocol';
import { createLogger } from '@qchat/runtime';
import { connectClient, type TestClient } from '../../../../tests/support/ws-client';

/** A request held at the requester until the test lets it go. */
export interface Gate {
  /** Resolves when the held request was made. */
  reached: Promise<void>;
  release(): void;
}

/**
 * The in-memory requester, with one thing more for tests: the next request on a subject can be held, so a test
 * can act while a socket is in the middle of its connect sequence.
 */
class GatedRequester implements Requester {
  readonly mode = 'memory' as const;
  private readonly gates: { op: string; reply: boolean; reached: () => void; released: Promise<void> }[] = [];

  constructor(private readonly inner: Requester) {}

  /**
   * Holds the next request whose subject ends with `.<op>` (e.g. `relay.history`); with `reply`, the request is served
   * (its effects, broadcasts included, happen) and its reply is held, as a slow NATS reply would be.
   */
  hold(op: string, reply = false): Gate {
    let reached!: () => void;
    let release!: () => void;
    const gate = { reached: new Promise<void>((r) => { reached = r; }), release: () => release() };
    this.gates.push({ op, reply, reached: () => reached(), released: new Promise<void>((r) => { release = r; }) });
    return gate;
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const i = this.gates.findIndex((g) => subject.endsWith(`.${g.op}`));
    if (i < 0) return this.inner.request(subject, data, timeoutMs);
    const [gate] = this.gates.splice(i, 1);
    if (!gate!.reply) {
      gate!.reached();
      await gate!.released;
      return this.inner.request(subject, data, timeoutMs);
    }
    const answer = await this.inner.request(subject, data, timeoutMs);
    gate!.reached();
    await gate!.released;
    return answer;
  }

  serve(subject: string, queue: string, respond: Responder): Promise<Unsubscribe> {
    return this.inner.serve(subject, queue, respond);
  }

  ready(): boolean {
    return this.inner.ready();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface EdgeStack {
  backends: Backends;
  /** Holds the next request on `op` (`relay.history`, `presence.join`, …) until released; with `reply`, its reply. */
  hold(op: string, reply?: boolean): Gate;
  /** A request to presence or relay as the edge makes it (JSON in, `{ok,data}` out): `op` as in `presence.counts`. */
  request<T>(op: string, body: unknown): Promise<T>;
  /** Every log line of the stack, parsed. */
  logs: Record<string, unknown>[];
  /** Opens a client on /channel/{channel}/ws (closed by stop). */
  client(channel?: string, opts?: { perMessageDeflate?: boolean }): Promise<TestClient>;
  /** Publishes a topic message on the channel's topic, as relay or presence would (route + frame bytes). */
  publish(channel: string, route: Route, frame: object | string): Promise<void>;
  /** The edge's socket count. */
  sockets(): number;
  /** The edge's HTTP and WebSocket port. */
  port(): number;
  /** Weak references to the upgrade requests the edge's HTTP server has received so far (memory tests). */
  upgrades(): WeakRef<object>[];
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

const FAST = {
  HOST: '127.0.0.1',
  PORT: '0',
  METRICS_PORT: '0',
  METRICS_HOST: '127.0.0.1',
  CHANNELS: 'QGIS,Geotribu',
  LOG_LEVEL: 'debug',
  NB_USERS_INTERVAL_MS: '0',
  READINESS_GRACE_MS: '0',
  REQUEST_TIMEOUT_MS: '1000',
  SHUTDOWN_TIMEOUT_MS: '2000',
};

export async function startEdgeStack(env: Record<string, string> = {}): Promise<EdgeStack> {
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger({ service: 'edge-test', level: 'debug', destination });
  const instance = `t${randomUUID().slice(0, 8)}`;
  const memory = await connectBackends({ INSTANCE_ID: instance, REDIS_URL: undefined, NATS_URL: undefined, EDGE_TTL_MS: 12_000 }, log, 'edge-test');
  const requester = new GatedRequester(memory.requester);
  const backends: Backends = { ...memory, requester };
  const stack = await startStack({ ...FAST, INSTANCE_ID: instance, ...env }, log, backends);
  const clients: TestClient[] = [];
  const upgrades: WeakRef<object>[] = [];
  stack.edge.server()?.prependListener('upgrade', (req: object) => { upgrades.push(new WeakRef(req)); });
  return {
    backends,
    logs,
    hold: (op, reply) => requester.hold(op, reply),
    async request<T>(op: string, body: unknown) {
      const raw = await memory.requester.request(`qchat.${instance}.${op}`, Buffer.from(JSON.stringify(body)), 2_000);
      const reply = JSON.parse(Buffer.from(raw).toString('utf8')) as { ok: true; data: T } | { ok: false; error: { message: string } };
      if (!reply.ok) throw new Error(reply.error.message);
      return reply.data;
    },
    async client(channel = 'QGIS', opts = {}) {
      const c = await connectClient(`ws://127.0.0.1:${stack.edge.port()}/channel/${encodeURIComponent(channel)}/ws`, opts);
      clients.push(c);
      return c;
    },
    publish: (channel, route, frame) => backends.engine.topics.publish(channel, encodeEnvelope(route, typeof frame === 'string' ? frame : JSON.stringify(frame))),
    sockets: () => stack.edge.hub.count(),
    port: () => stack.edge.port(),
    upgrades: () => upgrades,
    async metric(name) {
      const metric = stack.edge.registry.getSingleMetric(name);
      if (!metric) throw new Error(`no metric ${name}`);
      return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
    },
    async stop() {
      for (const c of clients) c.ws.terminate();
      await stack.stop();
    },
  };
}
