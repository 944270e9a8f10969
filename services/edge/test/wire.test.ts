/** The pre-built text frame is byte for byte what `ws` would write for the same payload, at every length boundary. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { FrameCache, textFrame } from '../src/ws/wire';

/** ws's own framing (`Sender`, exported by ws but not by its type definitions). */
interface WsSender { frame(data: Buffer, options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean }): Buffer[] }
const { Sender } = createRequire(import.meta.url)('ws') as { Sender: WsSender };

/** What ws's own sender writes for an unmasked, uncompressed text message (header and payload, joined). */
function wsFrame(payload: Buffer): Buffer {
  const parts = Sender.frame(payload, { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false });
  return Buffer.concat(parts);
}

describe('textFrame', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 2_100_000])('matches ws for a %i-byte payload', (n) => {
    const payload = Buffer.alloc(n, 0x61);
    const frame = textFrame(payload);
    expect(frame.length).toBe(wsFrame(payload).length);
    expect(frame.equals(wsFrame(payload))).toBe(true);
  });

  it('the cache frames a payload once per turn and forgets it after', () => {
    const cache = new FrameCache();
    const payload = Buffer.from('{"type":"text","text":"hi"}');
    const first = cache.framed(payload);
    expect(cache.framed(payload)).toBe(first);
    expect(cache.framed(Buffer.from(payload))).not.toBe(first); // another Buffer: framed on its own
    cache.clear();
    expect(cache.framed(payload)).not.toBe(first);
    expect(cache.framed(payload).equals(first)).toBe(true);
  });
});
