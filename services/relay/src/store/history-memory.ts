import type { Claim, HistoryStore } from './history';

/** In-process history: a real implementation for the all-in-one mode and unit tests. */
export class MemoryHistoryStore implements HistoryStore {
  private readonly lists = new Map<string, string[]>();
  private readonly marks = new Map<string, { frame: string | null; expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async append(channel: string, frame: string, max: number): Promise<void> {
    if (max <= 0) return;
    const list = this.lists.get(channel) ?? [];
    list.push(frame);
    if (list.length > max) list.splice(0, list.length - max);
    this.lists.set(channel, list);
  }

  async list(channel: string): Promise<string[]> {
    return [...(this.lists.get(channel) ?? [])];
  }

  async claim(id: string, ttlMs: number): Promise<Claim> {
    const mark = this.marks.get(id);
    if (mark && mark.expires > this.now()) return mark.frame === null ? { state: 'pending' } : { state: 'done', frame: mark.frame };
    this.sweep();
    this.marks.set(id, { frame: null, expires: this.now() + ttlMs });
    return { state: 'new' };
  }

  async complete(id: string, frame: string, ttlMs: number): Promise<void> {
    this.marks.set(id, { frame, expires: this.now() + ttlMs });
  }

  async release(id: string): Promise<void> {
    this.marks.delete(id);
  }

  private sweep(): void {
    if (this.marks.size < 10_000) return;
    const now = this.now();
    for (const [id, mark] of this.marks) if (mark.expires <= now) this.marks.delete(id);
  }
}
