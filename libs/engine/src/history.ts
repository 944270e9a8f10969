/** Per-channel history (the engine's `history` part) of client-ready frames, and idempotency marks for retried publish requests. */
/** `frame` of 'done' is the `result` the first attempt committed. */
export type Claim = { state: 'new' } | { state: 'pending' } | { state: 'done'; frame: string };

export interface ClaimOptions {
  /** Who claims; a later commit or release is accepted only while the claim is still this owner's. Default: a fresh one. */
  owner?: string;
  /** Another owner's claim older than this is taken over: that attempt died, or its caller gave up. Default: never. */
  staleMs?: number;
}

/** An accepted message: kept in its channel's history (the newest `max`, 0 keeps nothing) and published to the channel. */
export interface Accepted {
  channel: string;
  frame: string;
  /** What a retry of the same id is answered with (the frame, or a small stand-in when the caller never needs it). */
  result: string;
  max: number;
  /** What goes to the channel's subscribers (route and frame, @qchat/protocol envelope). */
  payload: Buffer;
}

/**
 * 'committed': kept, published and marked done.
 * 'lost': another attempt holds the id; `frame` is its frame when it finished (null while it is still at work).
 */
export type Committed = { state: 'committed' } | { state: 'lost'; frame: string | null };

export interface HistoryStore {
  /** Stored frames, oldest first. */
  list(channel: string): Promise<string[]>;
  /** Marks message `id` as in progress unless it was seen already (a retry): then says how far it got. */
  claim(id: string, ttlMs: number, opts?: ClaimOptions): Promise<Claim>;
  /**
   * All or nothing, and only while `owner` still holds the claim of `id`, on every backend: appends the frame,
   * publishes the payload to the channel, and records `result` as the outcome of `id` for ttlMs. A relay killed half-way
   * thus leaves either nothing or everything done, and a retry that took over can neither lose nor repeat it.
   */
  commit(id: string, owner: string, accepted: Accepted, ttlMs: number): Promise<Committed>;
  /** Removes the stored frame with this id from the channel's history (a moderator's action); false if none. */
  remove(channel: string, id: string): Promise<boolean>;
  /** Empties the channel's history; returns how many frames it held. */
  clear(channel: string): Promise<number>;
  /** Forgets `id` (its processing failed), so a retry may try again; with `owner`, only while the claim is its own. */
  release(id: string, owner?: string): Promise<void>;
}
