import { describe, expect, it } from 'vitest';
import { ImageQueue } from '../src/image-queue';
import { DEFAULT_DECODE_LIMITS, headerProblem, transformImage } from '../src/image';
import { gifBomb, pngBomb, webpBomb } from '../../../tests/support/bombs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ImageQueue', () => {
  it('runs at most `concurrency` jobs at once, in arrival order', async () => {
    const q = new ImageQueue(2, 10);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const job = (i: number) => async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await sleep(20);
      running--;
      return i;
    };
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => q.run(job(i), 5_000)));
    expect(results).toEqual([0, 1, 2, 3, 4].map((value) => ({ state: 'done', value })));
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('answers busy past the queue length, and late when the deadline passes waiting or running', async () => {
    const q = new ImageQueue(1, 1);
    const slow = q.run(() => sleep(200).then(() => 'slow'), 50); // runs, misses its deadline
    const waiting = q.run(async () => 'waited', 100); // waits behind it past its own deadline
    expect(await q.run(async () => 'x', 1_000)).toEqual({ state: 'busy' });
    expect(await slow).toEqual({ state: 'late' });
    expect(await waiting).toEqual({ state: 'late' });
    // A late job keeps its slot until it really ends, so the cap stays true; then the queue serves again.
    expect(q.load().running).toBe(1);
    await sleep(200);
    expect(await q.run(async () => 'after', 1_000)).toEqual({ state: 'done', value: 'after' });
  });
});

describe('decode limits, checked on the header', () => {
  // PNG, GIF and WebP bombs: see tests/support/bombs.ts.
  it('refuses pictures, GIFs and animations over their budgets, and lets a 48 MP photo through', () => {
    const L = DEFAULT_DECODE_LIMITS;
    expect(headerProblem({ format: 'jpeg', width: 8000, height: 6000 }, L)).toBeNull();
    expect(headerProblem({ format: 'png', width: 10_000, height: 10_000 }, L)).toMatch(/10000×10000 is over 50000000 pixels/);
    expect(headerProblem({ format: 'gif', width: 5_000, height: 5_000 }, L)).toMatch(/over 16000000/);
    expect(headerProblem({ format: 'webp', width: 100, height: 100, pages: 70_000 }, L)).toMatch(/70000 frames/);
    expect(headerProblem({ format: 'webp' }, L)).toBe('no size in header');
    // Each budget at its limit passes, one past it is refused.
    expect(headerProblem({ format: 'png', width: 10_000, height: 5_000 }, L)).toBeNull(); // exactly 50,000,000
    expect(headerProblem({ format: 'png', width: 50_000_001, height: 1 }, L)).toMatch(/over 50000000 pixels/);
    expect(headerProblem({ format: 'gif', width: 4_000, height: 4_000 }, L)).toBeNull(); // exactly 16,000,000
    expect(headerProblem({ format: 'gif', width: 16_000_001, height: 1 }, L)).toMatch(/over 16000000 pixels/);
    expect(headerProblem({ format: 'webp', width: 10, height: 10, pages: 1_000 }, L)).toBeNull();
    expect(headerProblem({ format: 'webp', width: 10, height: 10, pages: 1_001 }, L)).toMatch(/1001 frames, over 1000/);
  });

  it('refuses a 10000×10000 PNG bomb of a few KB without decoding it', async () => {
    const bomb = pngBomb(10_000, 10_000);
    expect(bomb.length).toBeLessThan(100_000);
    const started = Date.now();
    const result = await transformImage(bomb.toString('base64'), 800);
    expect(result).toEqual({ ok: false, reason: 'Image too large to process: 10000×10000 is over 50000000 pixels.' });
    expect(Date.now() - started).toBeLessThan(1_000);
    // The same file within the limits is decoded: the refusal came from the header, not from a broken file.
    const fine = await transformImage(pngBomb(2_000, 1_000).toString('base64'), 800);
    expect(fine).toMatchObject({ ok: true, width: 800, height: 400 });
    expect(await transformImage(gifBomb(10_000, 10_000).toString('base64'), 800)).toEqual({ ok: false, reason: 'Image too large to process: 10000×10000 is over 16000000 pixels.' });
    // A 28-byte WebP whose 13000×13000 canvas (676 MB decoded) costs no bits per pixel.
    const webp = webpBomb(13_000, 13_000);
    expect(webp.length).toBeLessThan(100);
    expect(await transformImage(webp.toString('base64'), 800)).toEqual({ ok: false, reason: 'Image too large to process: 13000×13000 is over 50000000 pixels.' });
    expect(await transformImage(webpBomb(1_600, 1_200).toString('base64'), 800)).toMatchObject({ ok: true, width: 800, height: 600 });
  });
});
