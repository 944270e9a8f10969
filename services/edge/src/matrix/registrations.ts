/**
 * POST /matrix/register bodies, password included, kept in this edge's memory only: never in Redis, forgotten
 * after MATRIX_REGISTRATION_TTL_SECONDS, and taken (removed) by the socket that uses them. The request id is a
 * UUID whose first group is this edge's tag, so when the socket lands on another edge (no sticky sessions
 * behind a balancer) that edge asks this one for it over NATS, and this one hands it over and forgets it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { QChatError, type MatrixRegistration } from '@qchat/protocol';
import { RpcClient, serveOperations, type Requester, type Unsubscribe } from '@qchat/bus';
import type { Registry } from '@qchat/runtime';
import type { Logger } from 'pino';

export type Registration = MatrixRegistration;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isRequestId(id: string): boolean {
  return UUID.test(id);
}

export class Registrations {
  readonly tag = randomBytes(4).toString('hex');
  private readonly entries = new Map<string, { reg: Registration; timer: NodeJS.Timeout }>();
  private readonly rpc: RpcClient;

  constructor(private readonly deps: {
    requester: Requester; instance: string; ttlMs: number; timeoutMs: number; log: Logger; registry?: Registry; onExpired(): void;
  }) {
    this.rpc = new RpcClient(deps.requester, { instance: deps.instance, timeouts: { requestMs: deps.timeoutMs, imageMs: 0 }, registry: deps.registry });
  }

  /** Answers the other edges' requests for registrations made here (`matrix.take` addressed to this edge's tag). */
  serve(): Promise<Unsubscribe> {
    const handlers = {
      'matrix.take': async (req: { id: string }) => {
        const reg = this.takeLocal(req.id);
        if (!reg) throw new QChatError('bad_frame', 'not registered');
        return reg;
      },
    };
    return serveOperations(this.deps.requester, this.deps.instance, 'matrix', handlers, { log: this.deps.log, registry: this.deps.registry, target: this.tag });
  }

  add(reg: Registration): string {
    const id = `${this.tag}${randomUUID().slice(8)}`;
    const timer = setTimeout(() => {
      if (this.entries.delete(id)) this.deps.onExpired();
    }, this.deps.ttlMs);
    timer.unref();
    this.entries.set(id, { reg, timer });
    return id;
  }

  /** The registration of `id`, removed wherever it was; undefined when unknown, expired or already used. */
  async take(id: string): Promise<Registration | undefined> {
    const id2 = id.toLowerCase();
    if (!isRequestId(id2)) return undefined;
    const tag = id2.slice(0, 8);
    if (tag === this.tag) return this.takeLocal(id2);
    try {
      return await this.rpc.call('matrix.take', { id: id2 }, { target: tag });
    } catch {
      return undefined;
    }
  }

  size(): number {
    return this.entries.size;
  }

  clear(): void {
    for (const { timer } of this.entries.values()) clearTimeout(timer);
    this.entries.clear();
  }

  private takeLocal(id: string): Registration | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.entries.delete(id);
    return entry.reg;
  }
}
