import type { Engine, EngineOptions } from '../engine';
import { keys } from '../keys';
import { ChannelTopics } from '../topics';
import { MemoryBridgeStore } from './bridge';
import { MemoryBroker } from './broker';
import { MemoryHistoryStore } from './history';
import { MemoryModerationStore } from './moderation';
import { MemoryPresenceStore } from './presence';

/**
 * Everything in this process: the all-in-one mode and unit tests. Each operation runs synchronously before its
 * promise resolves, so it is atomic; an operation that publishes does so in the same step (delivery is asynchronous,
 * as over a network).
 */
export function createMemoryEngine(opts: Extract<EngineOptions, { kind: 'memory' }>): Engine {
  const k = keys(opts.instance);
  const broker = new MemoryBroker();
  const now = opts.now ?? Date.now;
  return {
    mode: 'memory',
    keys: k,
    topics: new ChannelTopics(broker, k),
    history: new MemoryHistoryStore(broker, k, now),
    presence: new MemoryPresenceStore(broker, k, { edgeTtlMs: opts.edgeTtlMs, now }),
    moderation: new MemoryModerationStore(),
    bridge: new MemoryBridgeStore(),
    settlesAt: () => 0,
    ready: () => broker.ready(),
    close: () => broker.close(),
  };
}
