/** Per-channel history of client-ready frames, and idempotency markers for retried publish requests. */
export type Claim = { state: 'new' } | { state: 'pending' } | { state: 'done'; frame: string };

export interface HistoryStore {
  /** Keeps `frame` as the newest of the channel, trimming to the newest `max` (0: nothing is kept). */
  append(channel: string, frame: string, max: number): Promise<void>;
  /** Stored frames, oldest first. */
  list(channel: string): Promise<string[]>;
  /** Marks message `id` as in progress unless it was seen already (a retry): then says how far it got. */
  claim(id: string, ttlMs: number): Promise<Claim>;
  /** Records the published frame of `id`, so retries answer with it instead of publishing again. */
  complete(id: string, frame: string, ttlMs: number): Promise<void>;
  /** Forgets `id` (its processing failed), so a retry may try again. */
  release(id: string): Promise<void>;
}
