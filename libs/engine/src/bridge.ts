/**
 * The engine's `bridge` part: what the Matrix bridge keeps across restarts and hand-overs. One active bridge at a
 * time: the instance holding the lease does the Matrix work, the others stand by and try to take it every third of
 * its duration (Redis: SET NX PX, renewed by the owner only; in memory a lone process always holds it). The state
 * holds the Matrix sync token, marks of the messages already carried each way, and when the bridge first started.
 */
export interface Lease {
  /** Takes the lease if it is free or already ours (and extends it); resolves whether we hold it now. */
  acquire(): Promise<boolean>;
  /** Gives it up if we hold it, so a standby takes over at once. */
  release(): Promise<void>;
}

export interface BridgeState {
  get(key: string): Promise<string | null>;
  /** `ttlMs` unset keeps the value for good. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets only when absent; resolves true when it did. */
  setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean>;
}

export interface BridgeStore {
  state: BridgeState;
  /** The lease of the active bridge, held as `owner` for `ttlMs` per renewal. */
  lease(owner: string, ttlMs: number): Lease;
}
