import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../src/token-bucket';

describe('TokenBucket', () => {
  it('starts full, refuses what it does not hold without taking it, and refills at its rate up to the burst', () => {
    const b = new TokenBucket({ perSecond: 2, burst: 3 }, 0);
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).toEqual([true, true, true, false]);
    expect(b.waitSeconds(0)).toBe(0.5);
    expect(b.take(499)).toBe(false);
    expect(b.take(500)).toBe(true);
    expect(b.full(10_000)).toBe(true);
    expect(b.take(10_000, 4)).toBe(false); // more than the burst: never, and nothing taken
    expect(b.take(10_000, 3)).toBe(true);
  });

  it('with an unlimited rate never runs dry', () => {
    const b = new TokenBucket({ perSecond: Infinity, burst: Infinity }, 0);
    expect([b.take(0, 1e12), b.take(0, 1e12), b.take(5, 1e12)]).toEqual([true, true, true]);
  });
});
