/** Redis key names, all under the instance id so several instances can share servers (NATS subjects: operations.ts). */
export function keys(instance: string) {
  const base = `qchat:${instance}`;
  return {
    /** Broker topic of a chat channel. */
    topic: (channel: string) => `${base}:ch:${channel}`,
    /** History list, newest first. */
    history: (channel: string) => `${base}:ch:${channel}:last`,
    /** Hash conn -> edge id of the live connections of a channel. */
    conns: (channel: string) => `${base}:ch:${channel}:conns`,
    /** Hash nickname -> conn of the registered nicknames of a channel. */
    nicks: (channel: string) => `${base}:ch:${channel}:nicks`,
    /** Hash conn -> nickname of the registered connections of a channel. */
    connNick: (channel: string) => `${base}:ch:${channel}:connnick`,
    /** Set of "channel\tconn" held by an edge. */
    edgeConns: (edge: string) => `${base}:edge:${edge}:conns`,
    /** Liveness key of an edge, with a TTL. */
    edgeAlive: (edge: string) => `${base}:edge:${edge}:alive`,
    /** Set of edges that hold or held connections. */
    edges: `${base}:edges`,
    /** Idempotency marker of a publish request. */
    published: (id: string) => `${base}:pub:${id}`,
    /** Broker topic every edge reads: moderators' kicks and ban-list changes. */
    control: `${base}:control`,
    /** Hash conn -> {"addr","since"} of a channel's connections (moderators' listing). */
    connMeta: (channel: string) => `${base}:ch:${channel}:meta`,
    /** Hash "nickname:<nick>" | "address:<addr>" -> {"until","reason"}: bans on every channel. */
    bans: `${base}:bans`,
  } as const;
}
export type Keys = ReturnType<typeof keys>;
