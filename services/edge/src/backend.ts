/** The edge's view of relay and presence: calls of the operation table (timeouts and retries come from it). */
import type { RpcClient } from '@qchat/bus';
import type { BanKind, ChatBody, ConnState } from '@qchat/protocol';

export function createBackend(rpc: RpcClient, edge: string) {
  return {
    publish: (channel: string, id: string, body: ChatBody, source: 'ws' | 'http') => rpc.call('relay.publish', { channel, id, body, source }),
    history: (channel: string) => rpc.call('relay.history', { channel }),
    join: (channel: string, conn: string, addr?: string, since?: number) => rpc.call('presence.join', { channel, conn, edge, addr, since }),
    register: (channel: string, conn: string, nick: string) => rpc.call('presence.register', { channel, conn, edge, nick }),
    leave: (channel: string, conn: string, keepConnection = false) => rpc.call('presence.leave', { channel, conn, edge, keepConnection }),
    users: (channel: string) => rpc.call('presence.users', { channel }),
    counts: (channels: string[]) => rpc.call('presence.counts', { channels }),
    heartbeat: (conns: number) => rpc.call('presence.heartbeat', { edge, conns }),
    sync: (conns: ConnState[]) => rpc.call('presence.sync', { edge, conns }),
    holder: (channel: string, nick: string) => rpc.call('presence.holder', { channel, nick }),
    conns: (channel: string) => rpc.call('presence.conns', { channel }),
    ban: (kind: BanKind, value: string, seconds: number, reason: string) => rpc.call('presence.ban', { kind, value, seconds, reason }),
    unban: (kind: BanKind, value: string) => rpc.call('presence.unban', { kind, value }),
    bans: () => rpc.call('presence.bans', {}),
    kick: (channel: string | null, nick: string, reason: string) => rpc.call('presence.kick', { channel, nick, reason }),
    deleteMessage: (channel: string, id: string) => rpc.call('relay.delete', { channel, id }),
    clearHistory: (channel: string) => rpc.call('relay.clear', { channel }),
    edgeDown: () => rpc.call('presence.edge_down', { edge }),
  };
}
export type Backend = ReturnType<typeof createBackend>;
