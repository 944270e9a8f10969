/**
 * Moderation and impersonation checks (protocol.md §6 D6): request and reply bodies of the internal API, the
 * control messages presence publishes to every edge, and the close codes a moderator's action ends a socket with.
 */

/** Who holds a nickname in a channel (D6), and whether the nickname is banned. */
export interface PresenceHolderRequest { channel: string; nick: string }
export interface PresenceHolderReply { conn: string | null; banned: boolean }

/** One live connection, as a moderator sees it. `address` and `since` are null when presence lost them. */
export interface ConnInfo { conn: string; nickname: string | null; edge: string; address: string | null; since: number | null }
export interface PresenceConnsRequest { channel: string }
export interface PresenceConnsReply { connections: ConnInfo[] }

export type BanKind = 'nickname' | 'address';
/** A ban holds on every channel until `until` (ms since the epoch). */
export interface Ban { kind: BanKind; value: string; until: number; reason: string }
export interface PresenceBanRequest { kind: BanKind; value: string; seconds: number; reason: string }
export interface PresenceBanReply { ban: Ban }
export interface PresenceUnbanRequest { kind: BanKind; value: string }
export interface PresenceUnbanReply { removed: boolean }
export type PresenceBansRequest = Record<string, never>;
export interface PresenceBansReply { bans: Ban[] }

/** Closes the sockets registered as `nick` (in `channel`, or every channel when null) on every edge. */
export interface PresenceKickRequest { channel: string | null; nick: string; reason: string }
export interface PresenceKickReply { sent: true }

export interface RelayDeleteRequest { channel: string; id: string }
export interface RelayDeleteReply { deleted: boolean }
export interface RelayClearRequest { channel: string }
export interface RelayClearReply { cleared: number }

/**
 * Published by presence on the control topic, read by every edge. `kick` closes matching sockets (a nickname in a
 * channel or everywhere, or every socket of an address); `bans` says the ban list changed (edges reload it).
 */
export type ControlMessage =
  | { op: 'kick'; channel: string | null; nick: string | null; address: string | null; code: number; reason: string }
  | { op: 'bans' };

/** Close codes of moderators' actions (4500–4999: the client should not reconnect by itself). */
export const MODERATION_CLOSE = {
  kicked: 4500,
  banned: 4501,
} as const;

/** WebSocket close reasons are at most 123 bytes: cut on a character boundary. */
export function closeReason(text: string): string {
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch, 'utf8') > 123) break;
    out += ch;
  }
  return out;
}

/** Parses a control message defensively (broker data is untrusted): null when it is not one. */
export function parseControl(payload: Buffer): ControlMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const m = v as Record<string, unknown>;
  if (m['op'] === 'bans') return { op: 'bans' };
  if (m['op'] !== 'kick') return null;
  const optStr = (x: unknown) => x === null || (typeof x === 'string' && x.length > 0 && x.length <= 256);
  if (!optStr(m['channel']) || !optStr(m['nick']) || !optStr(m['address'])) return null;
  if (m['nick'] === null && m['address'] === null) return null;
  const code = m['code'];
  if (code !== MODERATION_CLOSE.kicked && code !== MODERATION_CLOSE.banned) return null;
  if (typeof m['reason'] !== 'string') return null;
  return {
    op: 'kick',
    channel: m['channel'] as string | null,
    nick: m['nick'] as string | null,
    address: m['address'] as string | null,
    code,
    reason: closeReason(m['reason']),
  };
}

export const moderationReasons = {
  /** protocol.md §6 D6: posting under a nickname another connection registered. */
  impersonation: (nick: string, channel: string) => `Nickname '${nick}' is registered by another user in channel ${channel}`,
  nicknameBanned: (nick: string) => `Nickname '${nick}' is banned by a moderator`,
} as const;
