/**
 * Relay's PNG encoder against gischat's (real Pillow, in a Python subprocess), and the generated test photos: slower
 * than the unit project's in-process tests (seconds of image work and a child process), so they run here.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PILLOW_SETUP_COMMAND, pillowAvailable, pillowTransform } from '../../bench/png/pillow';
import { transformImage } from '../../services/relay/src/image';
import { jpegBelowChars, pictureSet } from '../support/pictures';

describe('PNG size against gischat (Pillow)', () => {
  it('is no larger than Pillow\'s for every generated photo and screenshot', { timeout: 30_000 }, async () => {
    if (!pillowAvailable()) throw new Error(`Pillow virtualenv missing: run \`${PILLOW_SETUP_COMMAND}\` (.ci/run does)`);
    const pictures = await pictureSet('test');
    expect(pictures.map((p) => p.kind)).toEqual(expect.arrayContaining(['photo', 'screenshot-ui', 'screenshot-map']));
    const pillow = await pillowTransform(pictures.map((p) => p.bytes), 800);
    const rows: string[] = [];
    for (const [i, picture] of pictures.entries()) {
      const ours = await transformImage(picture.bytes.toString('base64'), 800);
      if (!ours.ok) throw new Error(`${picture.name}: ${ours.reason}`);
      const theirs = pillow[i]!;
      expect([ours.width, ours.height]).toEqual([theirs.width, theirs.height]);
      rows.push(`${picture.name}: ours ${ours.bytesOut} B, Pillow ${theirs.png.length} B`);
      expect(ours.bytesOut, rows.join('\n')).toBeLessThanOrEqual(theirs.png.length);
    }
  });
});

describe('test pictures', () => {
  it('jpegBelowChars makes a photo JPEG whose base64 is just under the given length', { timeout: 20_000 }, async () => {
    const made = await jpegBelowChars(400_000);
    expect(made.base64.length).toBeLessThanOrEqual(400_000);
    expect(made.base64.length).toBeGreaterThan(396_000);
    expect(made.base64).toBe(made.bytes.toString('base64'));
    const meta = await sharp(made.bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', made.width, made.height]);
  });
});
