/**
 * One clock for every bench process: CLOCK_MONOTONIC through process.hrtime, in milliseconds with
 * sub-microsecond digits. All processes run on this box, so a time taken by a sender worker can be
 * subtracted from a time taken by a receiver worker (unlike Date.now(), it never jumps with NTP).
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
