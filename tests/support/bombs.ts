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

/**
 * A lossless WebP announcing width × height (up to 16384 each) in about 40 bytes: every prefix code has a single
 * symbol, so each pixel costs no bits and the whole canvas decodes from the header (width × height × 4 bytes).
 */
export function webpBomb(width: number, height: number): Buffer {
  const bits: number[] = [];
  const put = (value: number, n: number) => { for (let i = 0; i < n; i++) bits.push((value >> i) & 1); };
  put(width - 1, 14);
  put(height - 1, 14);
  put(0, 1); // alpha not used
  put(0, 3); // version
  put(0, 1); // no transform
  put(0, 1); // no colour cache
  put(0, 1); // no meta prefix codes
  for (let code = 0; code < 5; code++) {
    put(1, 1); // simple code
    put(0, 1); // one symbol
    put(0, 1); // of 1 bit
    put(0, 1); // symbol 0
  }
  const body = Buffer.alloc(1 + Math.ceil(bits.length / 8));
  body[0] = 0x2f;
  bits.forEach((b, i) => { body[1 + (i >> 3)]! |= b << (i & 7); });
  const payload = body.length % 2 === 0 ? body : Buffer.concat([body, Buffer.alloc(1)]);
  const chunk = Buffer.concat([Buffer.from('VP8L', 'latin1'), le32(body.length), payload]);
  return Buffer.concat([Buffer.from('RIFF', 'latin1'), le32(4 + chunk.length), Buffer.from('WEBP', 'latin1'), chunk]);
}

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
