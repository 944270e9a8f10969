/** A sustained rate and the burst allowed above it; one object shared by every bucket that uses it. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/**
 * A token bucket: `rate.burst` tokens at most, refilled at `rate.perSecond`. Used for each socket's frames and bytes
 * and for PUT /channel/{c}/text per address. Two numbers of state and a reference to its shared rate.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly rate: Rate, now: number) {
    this.tokens = rate.burst;
    this.at = now;
  }

  /** Takes `n` tokens; false when fewer are there (nothing is taken then). */
  take(now: number, n = 1): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Seconds until `n` tokens are there (0: now). */
  waitSeconds(now: number, n = 1): number {
    this.refill(now);
    return this.tokens >= n ? 0 : (n - this.tokens) / this.rate.perSecond;
  }

  /** True when the bucket is full: it holds nothing a new one would not. */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.rate.burst;
  }

  private refill(now: number): void {
    const elapsed = now - this.at;
    if (elapsed <= 0) return;
    this.tokens = Math.min(this.rate.burst, this.tokens + (elapsed / 1000) * this.rate.perSecond);
    this.at = now;
  }
}
