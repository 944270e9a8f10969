/**
 * What the bridge must remember across restarts and hand-overs: the Matrix sync token, marks of the messages
 * already carried each way (by Matrix transaction id or event id), and when it first started. Redis when
 * configured, else memory (the all-in-one process without Redis).
 */
import type { Redis } from 'ioredis';

export interface BridgeState {
  get(key: string): Promise<string | null>;
  /** `ttlMs` unset keeps the value for good. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets only when absent; resolves true when it did. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
}

export class MemoryBridgeState implements BridgeState {
  private readonly values = new Map<string, { value: string; expires: number }>();

  async get(key: string): Promise<string | null> {
    const v = this.values.get(key);
    if (!v) return null;
    if (v.expires <= Date.now()) {
      this.values.delete(key);
      return null;
    }
    return v.value;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.values.set(key, { value, expires: ttlMs ? Date.now() + ttlMs : Infinity });
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if ((await this.get(key)) !== null) return false;
    await this.set(key, value, ttlMs);
    return true;
  }
}

export class RedisBridgeState implements BridgeState {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  get(key: string): Promise<string | null> {
    return this.redis.get(this.prefix + key);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs) await this.redis.set(this.prefix + key, value, 'PX', ttlMs);
    else await this.redis.set(this.prefix + key, value);
  }

  async setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const res = ttlMs
      ? await this.redis.set(this.prefix + key, value, 'PX', ttlMs, 'NX')
      : await this.redis.set(this.prefix + key, value, 'NX');
    return res === 'OK';
  }
}
