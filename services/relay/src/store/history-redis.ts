import type { Redis } from 'ioredis';
import { keys, type Keys } from '@qchat/protocol';
import type { Claim, HistoryStore } from './history';

const PENDING = '';

/** History as a Redis list, newest at the head (LPUSH + LTRIM), as gischat does; markers as keys with a TTL. */
export class RedisHistoryStore implements HistoryStore {
  private readonly keys: Keys;

  constructor(private readonly redis: Redis, instance: string) {
    this.keys = keys(instance);
  }

  async append(channel: string, frame: string, max: number): Promise<void> {
    if (max <= 0) return;
    const key = this.keys.history(channel);
    await this.redis.multi().lpush(key, frame).ltrim(key, 0, max - 1).exec();
  }

  async list(channel: string): Promise<string[]> {
    const newestFirst = await this.redis.lrange(this.keys.history(channel), 0, -1);
    return newestFirst.reverse();
  }

  async claim(id: string, ttlMs: number): Promise<Claim> {
    const key = this.keys.published(id);
    const set = await this.redis.set(key, PENDING, 'PX', ttlMs, 'NX');
    if (set === 'OK') return { state: 'new' };
    const frame = await this.redis.get(key);
    if (frame === null) return this.claim(id, ttlMs);
    return frame === PENDING ? { state: 'pending' } : { state: 'done', frame };
  }

  async complete(id: string, frame: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.published(id), frame, 'PX', ttlMs);
  }

  async release(id: string): Promise<void> {
    await this.redis.del(this.keys.published(id));
  }
}
