/**
 * Image bombs against a standalone relay (distributed shape, default nats-server): PNG, GIF and WebP files of a few
 * bytes to a few KB announcing 10000×10000 to 13000×13000 pixels, sent in parallel with photos at the size limit. The relay's peak memory stays
 * under a stated ceiling (its Kubernetes limit is 768 Mi), another user's small image is delivered within a stated
 * time, and every message gets exactly one outcome.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_LIMITS } from '@qchat/protocol';
import { gifBomb, pngBomb, webpBomb } from '../support/bombs';
import { jpegBelowChars } from '../support/pictures';
import { is, isRunning, startStack, type Stack } from '../support/stack';

/** Stated bounds: relay peak RSS, and how late the victim's small image may arrive. */
const RELAY_PEAK_RSS_BYTES = 450 * 1024 * 1024;
const VICTIM_DELIVERY_MS = 8_000;

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error('no VmHWM in /proc status');
  return Number(kb[1]) * 1024;
}

describe('image bombs against a standalone relay', () => {
  let stack: Stack;
  let photo: string;

  beforeAll(async () => {
    [stack, photo] = await Promise.all([
      startStack({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl'), edges: 2, env: { CHANNELS: 'QGIS', IMAGE_TIMEOUT_MS: '20000' } }),
      jpegBelowChars(DEFAULT_LIMITS.maxImageRawLength).then((p) => p.base64),
    ]);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('keeps the relay under its memory ceiling, serves a victim in time, one outcome per message', async () => {
    const relay = stack.relay[0]!;
    const attackers = await Promise.all([0, 1, 0, 1].map((edge) => stack.client(edge, 'QGIS')));
    const victim = await stack.client(1, 'QGIS');
    const watcher = await stack.client(0, 'QGIS');
    for (const c of [...attackers, victim, watcher]) await c.next(is('nb_users'));
    const before = await peakRss(relay.pid);

    const bombs = [pngBomb(10_000, 10_000), gifBomb(10_000, 10_000), webpBomb(13_000, 13_000)].map((b) => b.toString('base64'));
    // Each attacker: a PNG, a GIF and a WebP bomb and a photo at the limit, all at once.
    attackers.forEach((a, k) => {
      a.send({ type: 'image', author: `bomb_png_${k}`, avatar: null, image_data: bombs[0] });
      a.send({ type: 'image', author: `bomb_gif_${k}`, avatar: null, image_data: bombs[1] });
      a.send({ type: 'image', author: `bomb_webp_${k}`, avatar: null, image_data: bombs[2] });
      a.send({ type: 'image', author: `photo_${k}`, avatar: null, image_data: photo });
    });
    const small = (await sharp({ create: { width: 320, height: 200, channels: 3, background: '#3366aa' } }).png().toBuffer()).toString('base64');
    const sentAt = Date.now();
    victim.send({ type: 'image', author: 'victim', avatar: null, image_data: small });
    await watcher.next(is('image', (f) => f.author === 'victim'), VICTIM_DELIVERY_MS);
    const victimMs = Date.now() - sentAt;

    // One outcome per message, in each attacker's order: three bombs (refused from their headers), then the photo.
    for (const [k, a] of attackers.entries()) {
      const outcomes = [];
      for (let i = 0; i < 4; i++) outcomes.push(await a.next((f) => f.type === 'uncompliant' || (f.type === 'image' && f.author.endsWith(`_${k}`)), 60_000));
      expect(outcomes[0]).toMatchObject({ type: 'uncompliant', reason: expect.stringContaining('10000×10000') });
      expect(outcomes[1]).toMatchObject({ type: 'uncompliant', reason: expect.stringContaining('10000×10000') });
      expect(outcomes[2]).toMatchObject({ type: 'uncompliant', reason: expect.stringContaining('13000×13000') });
      expect(outcomes[3]).toMatchObject({ type: 'image', author: `photo_${k}` });
      await a.expectNone((f) => f.type === 'uncompliant' || (f.type === 'image' && f.author.endsWith(`_${k}`)), 300);
    }
    expect(watcher.frames.filter(is('image', (f) => String(f.author).startsWith('bomb_')))).toEqual([]);
    const peak = await peakRss(relay.pid);
    console.log(JSON.stringify({ relayPeakRssMiB: Math.round(peak / 2 ** 20), beforeMiB: Math.round(before / 2 ** 20), victimMs }));
    expect(peak).toBeLessThan(RELAY_PEAK_RSS_BYTES);
    expect(await isRunning(relay)).toBe(true);
  }, 120_000);
});
