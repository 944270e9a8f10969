/** A token bucket per client address (PUT /channel/{c}/text): bounded in memory whatever the number of addresses. */
export class AddressRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    private readonly maxAddresses = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `address`; returns 0 when allowed, else the seconds until a token is back. */
  take(address: string): number {
    const now = this.now();
    const perMs = this.perMinute / 60_000;
    const b = this.buckets.get(address);
    const tokens = b ? Math.min(this.burst, b.tokens + (now - b.at) * perMs) : this.burst;
    if (tokens < 1) {
      if (b) { b.tokens = tokens; b.at = now; }
      return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
    }
    if (!b && this.buckets.size >= this.maxAddresses) this.prune(now, perMs);
    this.buckets.set(address, { tokens: tokens - 1, at: now });
    return 0;
  }

  /** Forgets full buckets (they hold nothing a new one would not); if none is full, the oldest half. */
  private prune(now: number, perMs: number): void {
    for (const [a, b] of this.buckets) if (b.tokens + (now - b.at) * perMs >= this.burst) this.buckets.delete(a);
    if (this.buckets.size < this.maxAddresses) return;
    let drop = Math.floor(this.buckets.size / 2);
    for (const a of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(a);
    }
  }
}
