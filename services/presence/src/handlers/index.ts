/** One handler per presence subject. Each answers with data or throws a QChatError. */
import { QChatError, reasons, type PresenceCountsReply, type PresenceCountsRequest, type PresenceEdgeDownReply, type PresenceEdgeDownRequest, type PresenceHeartbeatReply, type PresenceHeartbeatRequest, type PresenceJoinReply, type PresenceJoinRequest, type PresenceLeaveReply, type PresenceLeaveRequest, type PresenceRegisterReply, type PresenceRegisterRequest, type PresenceSyncReply, type PresenceSyncRequest, type PresenceUsersReply, type PresenceUsersRequest } from '@qchat/protocol';
import type { Announcer } from '../announcer';
import type { PresenceMetrics } from '../metrics';
import type { ModerationStore, PresenceStore, Reclaimed } from '@qchat/engine';

export interface HandlerDeps {
  channels: readonly string[];
  /** Channels above this size get no newcomer/exiter broadcasts: join storms stay O(N). */
  largeChannel: number;
  store: PresenceStore;
  announce: Announcer;
  metrics: PresenceMetrics;
  /** Connection metadata and bans (moderation); optional so tests of presence alone can leave it out. */
  moderation?: ModerationStore;
  /** True when the nickname is banned: registration is refused. */
  nickBanned?: (nick: string) => Promise<boolean>;
}

/** The one rule of LARGE_CHANNEL_MEMBERS: a channel of more members than that gets no newcomer/exiter broadcast. */
export function isLarge(deps: Pick<HandlerDeps, 'largeChannel'>, members: number): boolean {
  return members > deps.largeChannel;
}

function knownChannel(deps: HandlerDeps, channel: string): void {
  if (!deps.channels.includes(channel)) throw new QChatError('channel_not_found', `Channel '${channel}' not registered`);
}

/** Sends exiter frames for reclaimed registered connections, then one nb_users per channel touched. */
export async function announceReclaimed(deps: HandlerDeps, removed: Reclaimed[]): Promise<void> {
  const channels = new Set<string>();
  for (const r of removed) channels.add(r.channel);
  for (const channel of channels) {
    await deps.moderation?.dropMeta(channel, removed.filter((r) => r.channel === channel).map((r) => r.conn)).catch(() => undefined);
  }
  for (const channel of channels) {
    const count = await deps.store.count(channel);
    if (!isLarge(deps, count)) {
      for (const r of removed) if (r.channel === channel && r.nick !== null) await deps.announce.exiter(channel, r.nick);
    }
    await deps.announce.count(channel);
  }
}

export function createHandlers(deps: HandlerDeps) {
  const { store, announce } = deps;
  return {
    async join(req: PresenceJoinRequest): Promise<PresenceJoinReply> {
      knownChannel(deps, req.channel);
      await store.join(req.channel, req.conn, req.edge);
      const frame = await announce.count(req.channel);
      // Metadata for moderators only: a failure to keep it never fails the join.
      if (req.addr !== undefined) {
        await deps.moderation?.setMeta(req.channel, req.conn, { addr: req.addr, since: req.since ?? Date.now() }).catch(() => undefined);
      }
      return { count: frame.count, frame: frame.json, frameId: frame.id };
    },

    async register(req: PresenceRegisterRequest): Promise<PresenceRegisterReply> {
      knownChannel(deps, req.channel);
      if (await deps.nickBanned?.(req.nick)) throw new QChatError('uncompliant', `Nickname '${req.nick}' is banned by a moderator`);
      const result = await store.register(req.channel, req.conn, req.edge, req.nick);
      if (result.status === 'taken') throw new QChatError('nickname_taken', reasons.nicknameTaken(req.nick, req.channel));
      if (result.status === 'ok') {
        const large = isLarge(deps, await store.count(req.channel));
        // A socket that registers a second nickname gives up the first: the others see it leave.
        if (result.replaced !== null && !large) await announce.exiter(req.channel, result.replaced);
        await announce.newcomer(req.channel, req.nick, large ? req.conn : undefined);
      }
      return { registered: true };
    },

    /**
     * A leave; with keepConnection (an inbound `exiter` naming the socket's own nickname) only the nickname goes, in
     * one atomic release: the connection never leaves the count.
     */
    async leave(req: PresenceLeaveRequest): Promise<PresenceLeaveReply> {
      if (req.keepConnection) {
        const released = await store.release(req.channel, req.conn);
        if (released.nick !== null && !isLarge(deps, released.count)) await announce.exiter(req.channel, released.nick);
        await announce.count(req.channel);
        return { nick: released.nick, count: released.count };
      }
      const left = await store.leave(req.channel, req.conn);
      await deps.moderation?.dropMeta(req.channel, [req.conn]).catch(() => undefined);
      if (!left.existed) return { nick: null, count: left.count };
      if (left.nick !== null && !isLarge(deps, left.count)) await announce.exiter(req.channel, left.nick);
      await announce.count(req.channel);
      return { nick: left.nick, count: left.count };
    },

    async users(req: PresenceUsersRequest): Promise<PresenceUsersReply> {
      knownChannel(deps, req.channel);
      return { users: await store.users(req.channel) };
    },

    async counts(req: PresenceCountsRequest): Promise<PresenceCountsReply> {
      return { counts: await store.counts(req.channels) };
    },

    async heartbeat(req: PresenceHeartbeatRequest): Promise<PresenceHeartbeatReply> {
      const held = await store.heartbeat(req.edge);
      return { resync: held !== req.conns };
    },

    async sync(req: PresenceSyncRequest): Promise<PresenceSyncReply> {
      const result = await store.sync(req.edge, req.conns);
      deps.metrics.rebuilds.inc();
      for (const channel of result.channels) await announce.count(channel);
      return { lostNicks: result.lostNicks };
    },

    async edgeDown(req: PresenceEdgeDownRequest): Promise<PresenceEdgeDownReply> {
      const removed = await store.reclaim(req.edge);
      deps.metrics.reclaimedConnections.inc({ reason: 'drain' }, removed.length);
      await announceReclaimed(deps, removed);
      return { reclaimed: removed.length };
    },
  };
}
export type Handlers = ReturnType<typeof createHandlers>;
