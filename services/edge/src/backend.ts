/** The edge's view of relay and presence: typed NATS calls, with retries where the operation is idempotent. */
import type { RpcClient } from '@qchat/bus';
import type {
  BanKind, PresenceBanReply, PresenceBansReply, PresenceConnsReply, PresenceHolderReply, PresenceKickReply, PresenceUnbanReply,
  RelayClearReply, RelayDeleteReply,
  ChatBody, ConnState, PresenceCountsReply, PresenceEdgeDownReply, PresenceHeartbeatReply, PresenceJoinReply,
  PresenceLeaveReply, PresenceSyncReply, PresenceUsersReply, RelayHistoryReply, RelayPublishReply, Subjects,
} from '@qchat/protocol';
import { publishBudgetMs } from '@qchat/protocol';

export function createBackend(rpc: RpcClient, subj: Subjects, edge: string, timeouts: { requestMs: number; imageMs: number }) {
  return {
    publish: (channel: string, id: string, body: ChatBody, source: 'ws' | 'http') =>
      rpc.call<unknown, RelayPublishReply>(subj.relayPublish, { channel, id, body, source }, { retries: 3, timeoutMs: publishBudgetMs(body, timeouts) }),
    // A history of big photos or layers is tens of MB: give it time to travel.
    history: (channel: string) => rpc.call<unknown, RelayHistoryReply>(subj.relayHistory, { channel }, { retries: 2, timeoutMs: 2 * timeouts.requestMs + 2_000 }),
    join: (channel: string, conn: string, addr?: string, since?: number) =>
      rpc.call<unknown, PresenceJoinReply>(subj.presenceJoin, { channel, conn, edge, addr, since }, { retries: 2 }),
    register: (channel: string, conn: string, nick: string) =>
      rpc.call<unknown, unknown>(subj.presenceRegister, { channel, conn, edge, nick }, { retries: 2 }),
    leave: (channel: string, conn: string, keepConnection = false) =>
      rpc.call<unknown, PresenceLeaveReply>(subj.presenceLeave, { channel, conn, edge, keepConnection }, { retries: 3 }),
    users: (channel: string) => rpc.call<unknown, PresenceUsersReply>(subj.presenceUsers, { channel }, { retries: 1 }),
    counts: (channels: string[]) => rpc.call<unknown, PresenceCountsReply>(subj.presenceCounts, { channels }, { retries: 1 }),
    heartbeat: (conns: number) => rpc.call<unknown, PresenceHeartbeatReply>(subj.presenceHeartbeat, { edge, conns }, { retries: 0 }),
    sync: (conns: ConnState[]) => rpc.call<unknown, PresenceSyncReply>(subj.presenceSync, { edge, conns }, { retries: 1, timeoutMs: 10_000 }),
    holder: (channel: string, nick: string) => rpc.call<unknown, PresenceHolderReply>(subj.presenceHolder, { channel, nick }, { retries: 2 }),
    conns: (channel: string) => rpc.call<unknown, PresenceConnsReply>(subj.presenceConns, { channel }, { retries: 1 }),
    ban: (kind: BanKind, value: string, seconds: number, reason: string) =>
      rpc.call<unknown, PresenceBanReply>(subj.presenceBan, { kind, value, seconds, reason }, { retries: 1 }),
    unban: (kind: BanKind, value: string) => rpc.call<unknown, PresenceUnbanReply>(subj.presenceUnban, { kind, value }, { retries: 1 }),
    bans: () => rpc.call<unknown, PresenceBansReply>(subj.presenceBans, {}, { retries: 1 }),
    kick: (channel: string | null, nick: string, reason: string) =>
      rpc.call<unknown, PresenceKickReply>(subj.presenceKick, { channel, nick, reason }, { retries: 1 }),
    deleteMessage: (channel: string, id: string) => rpc.call<unknown, RelayDeleteReply>(subj.relayDelete, { channel, id }, { retries: 1 }),
    clearHistory: (channel: string) => rpc.call<unknown, RelayClearReply>(subj.relayClear, { channel }, { retries: 1 }),
    edgeDown: () => rpc.call<unknown, PresenceEdgeDownReply>(subj.presenceEdgeDown, { edge }, { retries: 1 }),
  };
}
export type Backend = ReturnType<typeof createBackend>;
