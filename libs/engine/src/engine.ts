/**
 * The engine: every piece of shared state and broadcast behind one interface, one implementation per backend
 * (memory/ and redis/). Services get an Engine and never see a Redis client; key names and Lua stay in here.
 * Another backend (a Redis Cluster engine: hash-tagged keys, SPUBLISH on shard channels) is one more folder beside
 * these two, run through the same contract suites (tests/contract/*.contract.ts).
 */
import type { Logger } from 'pino';
import type { BridgeStore } from './bridge';
import type { HistoryStore } from './history';
import type { Keys } from './keys';
import type { ModerationStore } from './moderation';
import type { PresenceStore } from './presence';
import type { Topics } from './topics';
import { createMemoryEngine } from './memory';
import { createRedisEngine } from './redis';

export interface Engine {
  readonly mode: 'memory' | 'redis';
  /** Where each thing lives (Redis key names); for logs, tools and tests. */
  readonly keys: Keys;
  /** Broadcast per chat channel, and the control topic. */
  readonly topics: Topics;
  /** History and idempotency marks; `commit` stores and publishes in one step. */
  readonly history: HistoryStore;
  /** Connections, nicknames, edge liveness; `publishCount` counts and publishes in one step. */
  readonly presence: PresenceStore;
  readonly moderation: ModerationStore;
  /** The Matrix bridge's lease and state. */
  readonly bridge: BridgeStore;
  /**
   * Until when (ms since the epoch) a broadcast may miss subscribers that are still resubscribing after this
   * process reconnected to its backend; 0 when that never happens (memory).
   */
  settlesAt(): number;
  /** True while the engine can store, publish and deliver. */
  ready(): boolean;
  close(): Promise<void>;
}

interface Common {
  instance: string;
  /** Liveness TTL of an edge in presence (EDGE_TTL_MS). */
  edgeTtlMs: number;
}
export type EngineOptions =
  | (Common & { kind: 'memory'; /** A clock for tests (edge liveness, mark expiry). */ now?: () => number })
  | (Common & { kind: 'redis'; url: string });

export function createEngine(opts: EngineOptions, log: Logger, name: string): Engine {
  return opts.kind === 'redis' ? createRedisEngine(opts, log, name) : createMemoryEngine(opts);
}

/** Redis when REDIS_URL is set, memory otherwise. */
export function engineOptions(config: { INSTANCE_ID: string; REDIS_URL: string | undefined; EDGE_TTL_MS: number }): EngineOptions {
  const common = { instance: config.INSTANCE_ID, edgeTtlMs: config.EDGE_TTL_MS };
  return config.REDIS_URL ? { kind: 'redis', url: config.REDIS_URL, ...common } : { kind: 'memory', ...common };
}
