import type { Logger } from 'pino';
import { createEngine, engineOptions, type Engine } from '@qchat/engine';
import { Closers } from '@qchat/runtime';
import type { Requester } from './requester';
import { MemoryRequester } from './requester-memory';
import { connectNats } from './connections';

/** What a service needs from the outside world: the engine (shared state and broadcast) and requests. */
export interface Backends {
  engine: Engine;
  requester: Requester;
  close(): Promise<void>;
}

export interface BackendsConfig {
  INSTANCE_ID: string;
  REDIS_URL: string | undefined;
  NATS_URL: string | undefined;
  EDGE_TTL_MS: number;
}

/** NATS when NATS_URL is set, in memory otherwise. */
export async function connectRequester(config: Pick<BackendsConfig, 'NATS_URL'>, log: Logger, name: string): Promise<Requester> {
  return config.NATS_URL ? (await connectNats(config.NATS_URL, log, name)).requester : new MemoryRequester();
}

/** The engine (Redis when REDIS_URL is set, memory otherwise) and the requester (NATS when NATS_URL is set). */
export async function connectBackends(config: BackendsConfig, log: Logger, name: string): Promise<Backends> {
  const closers = new Closers(log);
  const engine = closers.add('engine', createEngine(engineOptions(config), log, name), (e) => e.close());
  try {
    const requester = closers.add('requester', await connectRequester(config, log, name), (r) => r.close());
    return { engine, requester, close: () => closers.closeAll() };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}
