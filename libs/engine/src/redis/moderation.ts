import type { Redis } from 'ioredis';
import type { Ban, BanKind } from '@qchat/protocol';
import type { Keys } from '../keys';
import { banField, decodeBan, type ConnMeta, type ModerationStore } from '../moderation';

/** Moderation state in Redis: a hash of connection metadata per channel, and one hash of bans for the instance. */
export class RedisModerationStore implements ModerationStore {
  constructor(private readonly redis: Redis, private readonly k: Keys) {}

  async setMeta(channel: string, conn: string, meta: ConnMeta): Promise<void> {
    await this.redis.hset(this.k.connMeta(channel), conn, JSON.stringify(meta));
  }

  async dropMeta(channel: string, conns: string[]): Promise<void> {
    if (conns.length) await this.redis.hdel(this.k.connMeta(channel), ...conns);
  }

  async meta(channel: string): Promise<Map<string, ConnMeta>> {
    const raw = await this.redis.hgetall(this.k.connMeta(channel));
    const out = new Map<string, ConnMeta>();
    for (const [conn, json] of Object.entries(raw)) {
      try {
        const v = JSON.parse(json) as Partial<ConnMeta>;
        if (typeof v.addr === 'string' && typeof v.since === 'number') out.set(conn, { addr: v.addr, since: v.since });
      } catch {
        // Not ours: ignored, and dropped by the next listing as a stale entry.
      }
    }
    return out;
  }

  async ban(ban: Ban): Promise<void> {
    await this.redis.hset(this.k.bans, banField(ban.kind, ban.value), JSON.stringify({ until: ban.until, reason: ban.reason }));
  }

  async unban(kind: BanKind, value: string): Promise<boolean> {
    return (await this.redis.hdel(this.k.bans, banField(kind, value))) > 0;
  }

  async bans(now: number): Promise<Ban[]> {
    const raw = await this.redis.hgetall(this.k.bans);
    const out: Ban[] = [];
    const expired: string[] = [];
    for (const [field, value] of Object.entries(raw)) {
      const ban = decodeBan(field, value);
      if (ban && ban.until > now) out.push(ban);
      else expired.push(field);
    }
    if (expired.length) await this.redis.hdel(this.k.bans, ...expired);
    return out;
  }

  async banOn(kind: BanKind, value: string, now: number): Promise<Ban | null> {
    const field = banField(kind, value);
    const raw = await this.redis.hget(this.k.bans, field);
    const ban = raw === null ? null : decodeBan(field, raw);
    return ban !== null && ban.until > now ? ban : null;
  }
}
