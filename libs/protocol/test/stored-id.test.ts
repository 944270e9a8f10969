import { describe, expect, it } from 'vitest';
import { storedId } from '../src';

describe('storedId', () => {
  it('reads the id from the head of a frame, as text or bytes; none when the head has no id', () => {
    const frame = `{"type":"image","id":"3f0f7a52-8d4e-4b53-9a43-6d7bf0d0d1d2","timestamp":1,"image_data":"${'A'.repeat(1000)}"}`;
    expect(storedId(frame)).toBe('3f0f7a52-8d4e-4b53-9a43-6d7bf0d0d1d2');
    expect(storedId(Buffer.from(frame))).toBe('3f0f7a52-8d4e-4b53-9a43-6d7bf0d0d1d2');
    expect(storedId(`{"type":"text","text":"${'x'.repeat(300)}","id":"late"}`)).toBeUndefined();
  });
});
