/**
 * Pre-framed fan-out: a broadcast's WebSocket frame (header + payload) is built once per turn and the same bytes are
 * written to every socket that gets it, where `ws.send` would frame it again for each socket. A server's frames are
 * never masked (RFC 6455 §5.1), so the bytes do not depend on the socket.
 */

/** FIN + text opcode: a whole text message in one frame. */
const FIN_TEXT = 0x81;

/** The frame of one unfragmented, unmasked, uncompressed text message carrying `payload` (RFC 6455 §5.2). */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = FIN_TEXT;
  if (head === 2) {
    frame[1] = n;
  } else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  payload.copy(frame, head);
  return frame;
}

/**
 * The frames built during one write turn, by payload: a payload queued on a thousand sockets is framed once. Keyed
 * by the Buffer itself (the hub queues the same Buffer to every socket), cleared after each turn.
 */
export class FrameCache {
  private readonly frames = new Map<Buffer, Buffer>();

  framed(payload: Buffer): Buffer {
    let frame = this.frames.get(payload);
    if (frame === undefined) {
      frame = textFrame(payload);
      this.frames.set(payload, frame);
    }
    return frame;
  }

  clear(): void {
    this.frames.clear();
  }
}
