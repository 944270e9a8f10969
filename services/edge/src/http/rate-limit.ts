import { TokenBucket, type Rate } from '../token-bucket';

/** A token bucket per client address (PUT /channel/{c}/text): bounded in memory whatever the number of addresses. */
export class AddressRateLimit {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly rate: Rate;

  constructor(
    perMinute: number,
    burst: number,
    private readonly maxAddresses = 100_000,
    private readonly now: () => number = Date.now,
  ) {
    this.rate = { perSecond: perMinute / 60, burst };
  }

  /** Takes one token for `address`; returns 0 when allowed, else the seconds until a token is back. */
  take(address: string): number {
    const now = this.now();
    let bucket = this.buckets.get(address);
    if (!bucket) {
      if (this.buckets.size >= this.maxAddresses) this.prune(now);
      bucket = new TokenBucket(this.rate, now);
      this.buckets.set(address, bucket);
    }
    return bucket.take(now) ? 0 : Math.max(1, Math.ceil(bucket.waitSeconds(now)));
  }

  /** Forgets full buckets (they hold nothing a new one would not); if none is full, the oldest half. */
  private prune(now: number): void {
    for (const [a, b] of this.buckets) if (b.full(now)) this.buckets.delete(a);
    if (this.buckets.size < this.maxAddresses) return;
    let drop = Math.floor(this.buckets.size / 2);
    for (const a of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(a);
    }
  }
}
