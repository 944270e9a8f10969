/** Decompression bombs for tests: tiny files whose headers announce huge pictures. */
import zlib from 'node:zlib';

/** A valid PNG announcing width × height, 1-bit grey, all black: a few KB that decode to width × height bytes. */
export function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const row = Math.ceil(width / 8) + 1;
  const idat = zlib.deflateSync(Buffer.alloc(row * height), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * A GIF whose screen and only image announce width × height, with an empty LZW stream (clear, end): 40 bytes that a
 * decoder without a header check answers by allocating width × height × 4 bytes.
 */
export function gifBomb(width: number, height: number): Buffer {
  const le = (n: number) => [n & 0xff, n >> 8];
  return Buffer.from([
    ...Buffer.from('GIF89a', 'latin1'), ...le(width), ...le(height), 0x80, 0, 0, // screen, 2-colour global table
    0, 0, 0, 255, 255, 255,
    0x2c, 0, 0, 0, 0, ...le(width), ...le(height), 0, // image descriptor
    2, 1, 0x2c, 0, // LZW min code size 2; one sub-block: clear (4), end (5) in 3-bit codes
    0x3b,
  ]);
}
