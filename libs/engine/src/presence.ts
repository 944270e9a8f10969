import type { ConnState } from '@qchat/protocol';

/**
 * Presence state (the engine's `presence` part): which connections sit in which channel, held by which edge, and which nickname each
 * registered connection holds. Counts are derived from the set of live connections, never kept as counters.
 * Every mutation is atomic, so concurrent callers (any number of presence replicas) never see a half-done change.
 *
 * Details every adapter keeps:
 * - join and register (whatever its status) are signs of life of the edge: they refresh its liveness.
 * - 'taken' and 'same' change no membership: a 'taken' register does not join an unjoined conn.
 * - A conn joined again under another edge moves to that edge.
 * - An edge is "known" while it holds at least one connection; leave, sync and reclaim forget it when it holds none,
 *   so deadEdges never lists an edge with nothing to reclaim.
 * - sync's `channels` are the channels whose set of connections changed (a conn added or removed); a nickname-only
 *   change does not list its channel. When one sync lists a conn twice, the last entry wins.
 */

export interface RegisterResult { status: 'ok' | 'taken' | 'same'; /** the conn's previous nickname, released by this call */ replaced: string | null }
export interface LeaveResult { existed: boolean; nick: string | null; count: number }
export interface ReleaseResult { /** conn is in the channel */ joined: boolean; /** the nickname released, if conn held one */ nick: string | null; count: number }
export interface Member { conn: string; edge: string; nick: string | null }
export interface Reclaimed { channel: string; conn: string; nick: string | null }

export interface PresenceStore {
  /** Adds conn (held by edge) to channel, refreshes the edge's liveness; returns the channel's live connection count after. Idempotent. */
  join(channel: string, conn: string, edge: string): Promise<number>;
  /** Claims nick for conn in channel (case-sensitive). 'taken' if another conn holds it (nothing changes); 'same' if conn already holds it (nothing changes); 'ok' otherwise, releasing conn's previous nickname (returned in `replaced`). Joins conn implicitly if it was not joined. */
  register(channel: string, conn: string, edge: string, nick: string): Promise<RegisterResult>;
  /** Removes conn and releases its nickname. existed=false when conn was unknown (a retried leave). */
  leave(channel: string, conn: string): Promise<LeaveResult>;
  /** Releases conn's nickname and keeps the connection, in one step (an inbound `exiter`): the count never dips. */
  release(channel: string, conn: string): Promise<ReleaseResult>;
  /**
   * Publishes `head` + the channel's live connection count + `tail` to the channel's subscribers, the count read in
   * the same atomic step as the publish (two replicas changing a channel at once cannot publish their counts in the
   * wrong order); returns that count.
   */
  publishCount(channel: string, head: Buffer, tail: string): Promise<number>;
  count(channel: string): Promise<number>;
  counts(channels: string[]): Promise<number[]>;
  /** Registered nicknames, unsorted. */
  users(channel: string): Promise<string[]>;
  /** The conn holding nick in channel, or null (protocol.md §6 D6). */
  holder(channel: string, nick: string): Promise<string | null>;
  /** Live connections of channel with their edge and nickname, in any order. */
  members(channel: string): Promise<Member[]>;
  /** Marks edge alive for the store's TTL; returns how many connections the store holds for that edge. */
  heartbeat(edge: string): Promise<number>;
  /** Edges known to hold connections whose liveness has expired. */
  deadEdges(): Promise<string[]>;
  /** Atomically removes every connection of edge and forgets the edge; returns what was removed. When two callers race, each connection is returned to exactly one of them. */
  reclaim(edge: string): Promise<Reclaimed[]>;
  /** Replaces everything the store holds for edge by `conns` (used when an edge re-announces after Redis lost its data or presence restarted) and marks it alive. Nicknames meanwhile held by another conn are not taken over: those conns stay joined but unregistered and are listed in lostNicks (conn ids). Returns also the channels whose membership changed. */
  sync(edge: string, conns: ConnState[]): Promise<{ lostNicks: string[]; channels: string[] }>;
}
