/**
 * Moderators' operations and the impersonation check (protocol.md §6 D6). Bans live in the moderation store,
 * shared by every replica; kicks and ban-list changes reach every edge as control messages on the broker.
 */
import {
  MODERATION_CLOSE, QChatError, type Ban, type ControlMessage, type PresenceBanReply, type PresenceBanRequest,
  type PresenceBansReply, type PresenceConnsReply, type PresenceConnsRequest, type PresenceHolderReply,
  type PresenceHolderRequest, type PresenceKickReply, type PresenceKickRequest, type PresenceUnbanReply,
  type PresenceUnbanRequest,
} from '@qchat/protocol';
import type { ModerationStore, PresenceStore, Topics } from '@qchat/engine';

export interface ModerationDeps {
  channels: readonly string[];
  store: PresenceStore;
  moderation: ModerationStore;
  /** Kicks and ban-list changes go out on the control topic. */
  topics: Pick<Topics, 'publishControl'>;
  now?: () => number;
}

const MAX_BAN_SECONDS = 10 * 365 * 24 * 3600;

export function banReason(ban: Ban): string {
  const until = new Date(ban.until).toISOString().slice(0, 16).replace('T', ' ');
  return `Banned by a moderator until ${until} UTC${ban.reason ? `: ${ban.reason}` : ''}`;
}

export function createModerationHandlers(deps: ModerationDeps) {
  const now = deps.now ?? Date.now;
  const known = (channel: string) => {
    if (!deps.channels.includes(channel)) throw new QChatError('channel_not_found', `Channel '${channel}' not registered`);
  };
  const control = (m: ControlMessage) => deps.topics.publishControl(Buffer.from(JSON.stringify(m), 'utf8'));
  // Every registration and every PUT asks: one field of the ban list, not the whole list.
  const nickBanned = async (nick: string) => (await deps.moderation.banOn('nickname', nick, now())) !== null;

  return {
    nickBanned,

    async holder(req: PresenceHolderRequest): Promise<PresenceHolderReply> {
      const [conn, banned] = await Promise.all([deps.store.holder(req.channel, req.nick), nickBanned(req.nick)]);
      return { conn, banned };
    },

    /** The channel's live connections with address and connect time; metadata of gone connections is dropped. */
    async conns(req: PresenceConnsRequest): Promise<PresenceConnsReply> {
      known(req.channel);
      const [members, meta] = await Promise.all([deps.store.members(req.channel), deps.moderation.meta(req.channel)]);
      const live = new Set(members.map((m) => m.conn));
      const stale = [...meta.keys()].filter((c) => !live.has(c));
      if (stale.length) await deps.moderation.dropMeta(req.channel, stale);
      return {
        connections: members.map((m) => ({
          conn: m.conn,
          nickname: m.nick,
          edge: m.edge,
          address: meta.get(m.conn)?.addr ?? null,
          since: meta.get(m.conn)?.since ?? null,
        })),
      };
    },

    /** Stores the ban, tells the edges to reload their lists, and closes the sockets it covers everywhere. */
    async ban(req: PresenceBanRequest): Promise<PresenceBanReply> {
      const seconds = Math.min(Math.max(1, Math.floor(req.seconds)), MAX_BAN_SECONDS);
      const ban: Ban = { kind: req.kind, value: req.value, until: now() + seconds * 1000, reason: req.reason };
      await deps.moderation.ban(ban);
      await control({ op: 'bans' });
      await control({
        op: 'kick',
        channel: null,
        nick: ban.kind === 'nickname' ? ban.value : null,
        address: ban.kind === 'address' ? ban.value : null,
        code: MODERATION_CLOSE.banned,
        reason: banReason(ban),
      });
      return { ban };
    },

    async unban(req: PresenceUnbanRequest): Promise<PresenceUnbanReply> {
      const removed = await deps.moderation.unban(req.kind, req.value);
      await control({ op: 'bans' });
      return { removed };
    },

    async bans(): Promise<PresenceBansReply> {
      return { bans: await deps.moderation.bans(now()) };
    },

    async kick(req: PresenceKickRequest): Promise<PresenceKickReply> {
      if (req.channel !== null) known(req.channel);
      const reason = `Kicked by a moderator${req.reason ? `: ${req.reason}` : ''}`;
      await control({ op: 'kick', channel: req.channel, nick: req.nick, address: null, code: MODERATION_CLOSE.kicked, reason });
      return { sent: true };
    },
  };
}
export type ModerationHandlers = ReturnType<typeof createModerationHandlers>;
