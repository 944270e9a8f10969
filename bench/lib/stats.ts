/**
 * Latency statistics that travel between processes: a log-bucketed histogram (1 % relative precision,
 * 1 µs .. ~100 s), mergeable by addition, plus exact count/min/max/sum. Values are milliseconds.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Bucket 0 holds everything below 1 µs; bucket i (i >= 1) holds [1µs·1.01^(i-1), 1µs·1.01^i). */
const BUCKETS = 1 + Math.ceil(Math.log(1e8) / LOG_GROWTH) + 1;

export interface HistogramJSON {
  count: number;
  min: number;
  max: number;
  sum: number;
  /** Sparse bucket counts: [index, count] pairs. */
  b: [number, number][];
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const v = ms < 0 ? 0 : ms;
    const us = v * 1000;
    const i = us < 1 ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(us) / LOG_GROWTH));
    this.counts[i]! += 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(other: Histogram | HistogramJSON): this {
    const h = other instanceof Histogram ? other.toJSON() : other;
    if (h.count === 0) return this;
    for (const [i, c] of h.b) this.counts[i]! += c;
    this.count += h.count;
    this.sum += h.sum;
    this.min = Math.min(this.min, h.min);
    this.max = Math.max(this.max, h.max);
    return this;
  }

  /** q in [0, 1]; the bucket's geometric middle, clamped to the exact min/max. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    if (q >= 1) return this.max;
    if (q <= 0) return this.min;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const mid = i === 0 ? 0.0005 : (GROWTH ** (i - 1) * Math.sqrt(GROWTH)) / 1000;
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  toJSON(): HistogramJSON {
    const b: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]! > 0) b.push([i, this.counts[i]!]);
    return { count: this.count, min: this.count ? this.min : 0, max: this.count ? this.max : 0, sum: this.sum, b };
  }

  static from(json: HistogramJSON): Histogram {
    return new Histogram().merge(json);
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      p50: round(this.quantile(0.5)),
      p90: round(this.quantile(0.9)),
      p99: round(this.quantile(0.99)),
      max: round(this.count ? this.max : NaN),
      mean: round(this.mean()),
    };
  }
}

export interface LatencySummary { count: number; p50: number; p90: number; p99: number; max: number; mean: number }

/** Running min/max/sum/count of plain numbers (frames per client and the like). */
export interface Aggregate { count: number; min: number; max: number; sum: number }

export function emptyAggregate(): Aggregate {
  return { count: 0, min: Infinity, max: -Infinity, sum: 0 };
}

export function addToAggregate(a: Aggregate, v: number): void {
  a.count++;
  a.sum += v;
  if (v < a.min) a.min = v;
  if (v > a.max) a.max = v;
}

export function mergeAggregates(a: Aggregate, b: Aggregate): Aggregate {
  return { count: a.count + b.count, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), sum: a.sum + b.sum };
}

export function aggregateSummary(a: Aggregate): { min: number; mean: number; max: number } {
  if (a.count === 0) return { min: NaN, mean: NaN, max: NaN };
  return { min: a.min, mean: round(a.sum / a.count), max: a.max };
}

/** Exact percentile of a small array (sorted copy, nearest rank). */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  const rank = Math.min(s.length, Math.max(1, Math.ceil(q * s.length)));
  return s[rank - 1]!;
}

export function median(values: number[]): number {
  return percentile(values, 0.5);
}

/** Three significant decimals at most; NaN stays NaN (printed as "n/a"). */
export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Merges per-key counters ({ "ECONNRESET": 3 }). */
export function mergeCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}
