/**
 * The writer's state of one socket: the frames queued this event-loop turn (written as one corked batch by the hub),
 * and what the slow-consumer rule measures. Only the hub's writer touches it.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { FrameCache } from './wire';

/** Bounds of unsent data per socket (hub.ts, from WS_MAX_BUFFERED_BYTES, WS_STALL_TIMEOUT_MS, WS_MAX_UNSENT_BYTES). */
export interface WriteLimits {
  /** Unsent data a socket may hold without draining any of it. */
  maxBufferedBytes: number;
  /** How long a socket over maxBufferedBytes may go without draining a byte. */
  stallTimeoutMs: number;
  /** Unsent data no socket may pass, draining or not. */
  maxUnsentBytes: number;
}

export class Outbox {
  /** Frames waiting for this turn's write (null when none: an idle socket holds no array). */
  private frames: Buffer[] | null = null;
  private queuedBytes = 0;
  /** Bytes handed to the socket so far; minus ws.bufferedAmount, what has left for the network. */
  private written = 0;
  /** What had drained when progress was last seen, and when (0: within budget). */
  private drained = 0;
  private progressAt = 0;

  /**
   * Frames go to the socket pre-built (wire.ts) unless the socket negotiated permessage-deflate: then `ws` compresses
   * each message for it. A socket with no extension carries every data frame we write this way; `ws` writes only its
   * control frames (ping, pong, close) to it, each as one write, so frames never interleave.
   */
  private readonly prebuilt: boolean;

  constructor(private readonly ws: WebSocket, private readonly socket: Duplex) {
    this.prebuilt = ws.extensions === '';
  }

  /** Bytes queued this turn. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Bytes not yet on the network: queued this turn plus what the socket still buffers. */
  get unsent(): number {
    return this.queuedBytes + this.ws.bufferedAmount;
  }

  /** Queues a frame; true when it is the first of this turn (the socket then needs a write). */
  push(frame: Buffer): boolean {
    this.queuedBytes += frame.length;
    if (this.frames === null) {
      this.frames = [frame];
      return true;
    }
    this.frames.push(frame);
    return false;
  }

  /** Drops what is queued (the socket is closing). */
  clear(): void {
    this.frames = null;
    this.queuedBytes = 0;
  }

  /** Writes the queued frames: one write, or one corked batch; the frames come from `cache`, built once per turn. */
  flush(cache: FrameCache): void {
    const frames = this.frames;
    this.clear();
    if (frames === null || this.ws.readyState !== this.ws.OPEN) return;
    const many = frames.length > 1;
    if (many) this.socket.cork();
    for (const f of frames) {
      if (this.prebuilt) {
        const frame = cache.framed(f);
        this.written += frame.length;
        this.socket.write(frame);
      } else {
        this.written += f.length;
        this.ws.send(f, { binary: false });
      }
    }
    if (many) this.socket.uncork();
  }

  /**
   * The slow-consumer rule: a socket is cut when it stops reading, not because a frame is big. Unsent data up to
   * maxBufferedBytes is always fine; above it the socket must keep draining (some bytes leave for the network at
   * least once per stallTimeoutMs), and it may never pass maxUnsentBytes. A phone receiving a history of five big
   * photos over a slow link keeps draining and stays; a client that stopped reading drains nothing and is cut.
   */
  keepsUp(adding: number, limits: WriteLimits, now: number): boolean {
    const buffered = this.ws.bufferedAmount;
    const unsent = buffered + this.queuedBytes + adding;
    if (unsent > limits.maxUnsentBytes) return false;
    if (unsent <= limits.maxBufferedBytes) {
      this.progressAt = 0;
      return true;
    }
    const drained = this.written - buffered;
    if (this.progressAt === 0 || drained > this.drained) {
      this.drained = drained;
      this.progressAt = now;
      return true;
    }
    return now - this.progressAt < limits.stallTimeoutMs;
  }

  /** True while the socket is over maxBufferedBytes and being watched for progress (the sweep checks those). */
  get watched(): boolean {
    return this.progressAt !== 0;
  }

  /** How long the socket has gone without draining (0: within budget). */
  stalledMs(now: number): number {
    return this.progressAt === 0 ? 0 : now - this.progressAt;
  }
}
