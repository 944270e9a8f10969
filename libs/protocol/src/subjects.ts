/** NATS subjects, all under the instance id so several instances can share servers (Redis key names: @qchat/engine). */
export function subjects(instance: string) {
  const base = `qchat.${instance}`;
  return {
    relayPublish: `${base}.relay.publish`,
    relayHistory: `${base}.relay.history`,
    presenceJoin: `${base}.presence.join`,
    presenceRegister: `${base}.presence.register`,
    presenceLeave: `${base}.presence.leave`,
    presenceUsers: `${base}.presence.users`,
    presenceCounts: `${base}.presence.counts`,
    presenceHeartbeat: `${base}.presence.heartbeat`,
    presenceSync: `${base}.presence.sync`,
    presenceEdgeDown: `${base}.presence.edge_down`,
    presenceHolder: `${base}.presence.holder`,
    presenceConns: `${base}.presence.conns`,
    presenceBan: `${base}.presence.ban`,
    presenceUnban: `${base}.presence.unban`,
    presenceBans: `${base}.presence.bans`,
    presenceKick: `${base}.presence.kick`,
    relayDelete: `${base}.relay.delete`,
    relayClear: `${base}.relay.clear`,
  } as const;
}
export type Subjects = ReturnType<typeof subjects>;

export const QUEUE = { relay: 'relay', presence: 'presence' } as const;
