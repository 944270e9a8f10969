import { randomUUID } from 'node:crypto';
import { storedId } from '@qchat/protocol';
import type { Accepted, Claim, ClaimOptions, Committed, HistoryStore } from '../history';
import type { Keys } from '../keys';
import type { MemoryBroker } from './broker';

interface Mark { frame: string | null; owner: string | null; at: number; expires: number }

/** In-process history: a real implementation for the all-in-one mode and unit tests. A commit stores and publishes in one synchronous step. */
export class MemoryHistoryStore implements HistoryStore {
  private readonly lists = new Map<string, string[]>();
  private readonly marks = new Map<string, Mark>();

  constructor(private readonly broker: MemoryBroker, private readonly k: Keys, private readonly now: () => number = Date.now) {}

  private append(channel: string, frame: string, max: number): void {
    if (max <= 0) return;
    const list = this.lists.get(channel) ?? [];
    list.push(frame);
    if (list.length > max) list.splice(0, list.length - max);
    this.lists.set(channel, list);
  }

  async list(channel: string): Promise<string[]> {
    return [...(this.lists.get(channel) ?? [])];
  }

  async claim(id: string, ttlMs: number, opts: ClaimOptions = {}): Promise<Claim> {
    const owner = opts.owner ?? randomUUID();
    const mark = this.mark(id);
    if (mark?.frame != null) return { state: 'done', frame: mark.frame };
    if (mark && mark.owner !== owner && !(opts.staleMs !== undefined && this.now() - mark.at >= opts.staleMs)) return { state: 'pending' };
    this.sweep();
    this.marks.set(id, { frame: null, owner, at: this.now(), expires: this.now() + ttlMs });
    return { state: 'new' };
  }

  async commit(id: string, owner: string, accepted: Accepted, ttlMs: number): Promise<Committed> {
    const mark = this.mark(id);
    if (!mark || mark.frame !== null || mark.owner !== owner) return { state: 'lost', frame: mark?.frame ?? null };
    // Publish first: it throws when the broker is closed, and then nothing is kept (all or nothing).
    this.broker.publishNow(this.k.topic(accepted.channel), accepted.payload);
    this.append(accepted.channel, accepted.frame, accepted.max);
    this.marks.set(id, { frame: accepted.result, owner: null, at: this.now(), expires: this.now() + ttlMs });
    return { state: 'committed' };
  }

  async remove(channel: string, id: string): Promise<boolean> {
    const list = this.lists.get(channel) ?? [];
    const at = list.findIndex((frame) => storedId(frame) === id);
    if (at < 0) return false;
    list.splice(at, 1);
    return true;
  }

  async clear(channel: string): Promise<number> {
    const n = this.lists.get(channel)?.length ?? 0;
    this.lists.delete(channel);
    return n;
  }

  async release(id: string, owner?: string): Promise<void> {
    const mark = this.marks.get(id);
    if (owner === undefined || (mark?.frame === null && mark.owner === owner)) this.marks.delete(id);
  }

  private mark(id: string): Mark | undefined {
    const mark = this.marks.get(id);
    return mark && mark.expires > this.now() ? mark : undefined;
  }

  private sweep(): void {
    if (this.marks.size < 10_000) return;
    const now = this.now();
    for (const [id, mark] of this.marks) if (mark.expires <= now) this.marks.delete(id);
  }
}
