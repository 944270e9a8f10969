import type { Ban, BanKind } from '@qchat/protocol';
import { banField, type ConnMeta, type ModerationStore } from '../moderation';

/** In-process moderation state for the all-in-one mode and unit tests. */
export class MemoryModerationStore implements ModerationStore {
  private readonly metas = new Map<string, Map<string, ConnMeta>>();
  private readonly banned = new Map<string, Ban>();

  async setMeta(channel: string, conn: string, meta: ConnMeta): Promise<void> {
    let m = this.metas.get(channel);
    if (!m) this.metas.set(channel, (m = new Map()));
    m.set(conn, meta);
  }

  async dropMeta(channel: string, conns: string[]): Promise<void> {
    const m = this.metas.get(channel);
    for (const c of conns) m?.delete(c);
    if (m && m.size === 0) this.metas.delete(channel);
  }

  async meta(channel: string): Promise<Map<string, ConnMeta>> {
    return new Map(this.metas.get(channel) ?? []);
  }

  async ban(ban: Ban): Promise<void> {
    this.banned.set(banField(ban.kind, ban.value), { ...ban });
  }

  async unban(kind: BanKind, value: string): Promise<boolean> {
    return this.banned.delete(banField(kind, value));
  }

  async bans(now: number): Promise<Ban[]> {
    const out: Ban[] = [];
    for (const [field, ban] of this.banned) {
      if (ban.until <= now) this.banned.delete(field);
      else out.push({ ...ban });
    }
    return out;
  }

  async banOn(kind: BanKind, value: string, now: number): Promise<Ban | null> {
    const ban = this.banned.get(banField(kind, value));
    return ban !== undefined && ban.until > now ? { ...ban } : null;
  }
}
