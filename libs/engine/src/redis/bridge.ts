import type { Redis } from 'ioredis';
import type { BridgeState, BridgeStore, Lease } from '../bridge';
import type { Keys } from '../keys';

class RedisLease implements Lease {
  constructor(private readonly redis: Redis, private readonly key: string, private readonly owner: string, private readonly ttlMs: number) {}

  async acquire(): Promise<boolean> {
    return (await this.redis.qchatBridgeLeaseRenew(this.key, this.owner, this.ttlMs)) === 1;
  }

  async release(): Promise<void> {
    await this.redis.qchatBridgeLeaseRelease(this.key, this.owner);
  }
}

class RedisBridgeState implements BridgeState {
  constructor(private readonly redis: Redis, private readonly k: Keys) {}

  get(key: string): Promise<string | null> {
    return this.redis.get(this.k.bridge(key));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs) await this.redis.set(this.k.bridge(key), value, 'PX', ttlMs);
    else await this.redis.set(this.k.bridge(key), value);
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const res = ttlMs
      ? await this.redis.set(this.k.bridge(key), value, 'PX', ttlMs, 'NX')
      : await this.redis.set(this.k.bridge(key), value, 'NX');
    return res === 'OK';
  }
}

/** The bridge's lease and state under `qchat:<instance>:bridge:`. */
export class RedisBridgeStore implements BridgeStore {
  readonly state: BridgeState;

  constructor(private readonly redis: Redis, private readonly k: Keys) {
    this.state = new RedisBridgeState(redis, k);
  }

  lease(owner: string, ttlMs: number): Lease {
    return new RedisLease(this.redis, this.k.bridge('lease'), owner, ttlMs);
  }
}
