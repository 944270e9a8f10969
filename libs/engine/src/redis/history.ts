import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { QChatError } from '@qchat/protocol';
import type { Accepted, Claim, ClaimOptions, Committed, HistoryStore } from '../history';
import type { Keys } from '../keys';
import { REDIS_SETTLE_MS, type ConnectionWatch } from './connection';
import { PENDING } from './lua';

/**
 * History as a Redis list, newest at the head (LPUSH + LTRIM), as gischat does; marks as keys with a TTL. A commit
 * stores, publishes (on the same Redis the edges subscribe to) and marks done in one script.
 *
 * While the connection is down, claims fail at once rather than wait in the client's queue and run after the edge
 * gave up. Right after it is back, the edges' subscriber connections may still be on their way (they retry on their
 * own backoff, up to REDIS_RECONNECT_MAX_MS apart), and a message published then would be stored yet missed by their
 * sockets; so claims are refused for `settleMs` after a reconnect too: the sender gets a clear "try again" instead.
 */
export class RedisHistoryStore implements HistoryStore {
  private readonly settleMs: number;

  constructor(private readonly redis: Redis, private readonly k: Keys, private readonly connection: ConnectionWatch, opts: { settleMs?: number } = {}) {
    this.settleMs = opts.settleMs ?? REDIS_SETTLE_MS;
  }

  async list(channel: string): Promise<string[]> {
    const newestFirst = await this.redis.lrange(this.k.history(channel), 0, -1);
    return newestFirst.reverse();
  }

  async claim(id: string, ttlMs: number, opts: ClaimOptions = {}): Promise<Claim> {
    if (this.connection.down()) throw new QChatError('unavailable', 'redis unavailable');
    if (Date.now() - this.connection.backAt() < this.settleMs) throw new QChatError('unavailable', 'redis reconnected moments ago; subscribers are catching up');
    const owner = opts.owner ?? randomUUID();
    const reply = await this.redis.qchatRelayClaim(this.k.published(id), owner, ttlMs, opts.staleMs ?? -1);
    return reply[0] === 'done' ? { state: 'done', frame: reply[1] } : { state: reply[0] };
  }

  async commit(id: string, owner: string, a: Accepted, ttlMs: number): Promise<Committed> {
    const reply = await this.redis.qchatRelayCommit(this.k.published(id), this.k.history(a.channel), owner, a.frame, a.max, ttlMs, this.k.topic(a.channel), a.payload, a.result);
    if (reply[0] === 'committed') return { state: 'committed' };
    const held = reply[1];
    return { state: 'lost', frame: held == null || held.startsWith(PENDING) ? null : held };
  }

  async remove(channel: string, id: string): Promise<boolean> {
    return (await this.redis.qchatRelayRemove(this.k.history(channel), `"id":"${id}"`)) > 0;
  }

  async clear(channel: string): Promise<number> {
    const key = this.k.history(channel);
    const replies = await this.redis.multi().llen(key).del(key).exec();
    return Number(replies?.[0]?.[1] ?? 0);
  }

  async release(id: string, owner?: string): Promise<void> {
    if (owner === undefined) await this.redis.del(this.k.published(id));
    else await this.redis.qchatRelayRelease(this.k.published(id), PENDING + owner);
  }
}
