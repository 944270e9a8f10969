import type { Ban, BanKind } from '@qchat/protocol';

/** Where a connection came from and since when (ms); kept beside presence for moderators' listing. */
export interface ConnMeta { addr: string; since: number }

/**
 * The engine's `moderation` part: what moderators need beyond presence: each connection's address and connect time, and the bans. Connection
 * metadata is written beside the (atomic) presence state, not inside it: an entry whose connection is gone is
 * ignored by readers and removed on the next listing, so a lost cleanup only leaves a little garbage.
 */
export interface ModerationStore {
  setMeta(channel: string, conn: string, meta: ConnMeta): Promise<void>;
  dropMeta(channel: string, conns: string[]): Promise<void>;
  /** Metadata of a channel's connections, by conn id. */
  meta(channel: string): Promise<Map<string, ConnMeta>>;
  /** Adds or replaces a ban. */
  ban(ban: Ban): Promise<void>;
  /** Lifts a ban; false when there was none. */
  unban(kind: BanKind, value: string): Promise<boolean>;
  /** Bans still in force at `now`; expired ones are removed. */
  bans(now: number): Promise<Ban[]>;
  /** The ban on one nickname or address in force at `now`, if any: one field read, whatever the size of the list. */
  banOn(kind: BanKind, value: string, now: number): Promise<Ban | null>;
}

export const banField = (kind: BanKind, value: string) => `${kind}:${value}`;

/** Reads a stored ban field and value back; null when it is not one of ours. */
export function decodeBan(field: string, value: string): Ban | null {
  const cut = field.indexOf(':');
  const kind = field.slice(0, cut);
  if (kind !== 'nickname' && kind !== 'address') return null;
  try {
    const v = JSON.parse(value) as { until?: unknown; reason?: unknown };
    if (typeof v.until !== 'number') return null;
    return { kind, value: field.slice(cut + 1), until: v.until, reason: typeof v.reason === 'string' ? v.reason : '' };
  } catch {
    return null;
  }
}
