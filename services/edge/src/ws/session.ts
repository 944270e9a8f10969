import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** A frame that arrived from the broker while the session was still receiving its connect sequence. */
interface Held { id: string; frame: Buffer; count: boolean; seq: number }

/** One client socket in one chat channel. Kept small: thousands live at once. */
export class Session {
  readonly id: string = randomUUID();
  /** When the socket was accepted (for the duration in the close log line). */
  readonly openedAt = Date.now();
  /** Nickname registered by this socket (one per socket; a second `newcomer` replaces it). */
  nick: string | null = null;
  /** Until the connect sequence (nb_users, then history) is sent, live frames wait in `held`. */
  replaying = true;
  held: Held[] | null = [];
  heldBytes = 0;
  /** Ids already sent during the connect sequence, so the live copy of the same frame is skipped. */
  seen: Set<string> | null = new Set();
  /** Until when `seen` still filters live frames after the replay (then it is dropped). */
  seenUntil = 0;
  /** Frames waiting for this turn's write; written as one batch. */
  pending: Buffer[] = [];
  pendingBytes = 0;
  /** Bytes handed to the socket so far; minus ws.bufferedAmount, what has left for the network. */
  written = 0;
  /** Slow-consumer rule (hub.keepsUp): what had drained when progress was last seen, and when (0: within budget). */
  drained = 0;
  progressAt = 0;
  /** The joiner's own nb_users frame id, and the hub's broker sequence when it was sent: older counts are skipped. */
  countId: string | null = null;
  countSeq = 0;
  dirty = false;
  closed = false;
  /** Reading is paused while inbound frames pile up (gateway) or unsent data does (hub): see `updateReading`. */
  inboundFull = false;
  outboundFull = false;
  /** Inbound frames are handled one after another, so a sender's messages keep their order. */
  chain: Promise<void> = Promise.resolve();
  queued = 0;
  /** Keepalive: when the unanswered ping was sent (0: none outstanding), and when the last ping went. */
  awaitingPongSince = 0;
  lastPingAt: number;
  /** Token bucket of the inbound rate limit. */
  tokens: number;
  refilledAt: number;
  /** Token bucket of inbound bytes, beside the frame budget. */
  byteTokens = Infinity;
  byteRefilledAt: number;
  /** When the socket connected (ms), for moderators' listing. */
  readonly since: number;

  constructor(
    readonly ws: WebSocket,
    readonly socket: Duplex,
    readonly channel: string,
    readonly ip: string,
    burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.refilledAt = now;
    this.lastPingAt = now;
    this.byteRefilledAt = now;
    this.since = now;
  }

  /** Takes `bytes` from the byte budget; false when the socket is over it (nothing is taken then). */
  takeBytes(bytes: number, perSecond: number, burst: number, now: number): boolean {
    this.byteTokens = Math.min(burst, this.byteTokens + ((now - this.byteRefilledAt) / 1000) * perSecond);
    this.byteRefilledAt = now;
    if (this.byteTokens < bytes) return false;
    this.byteTokens -= bytes;
    return true;
  }

  /**
   * Reads the socket only while neither side is full: a client that sends faster than it is served, or than it
   * reads its own replies (rate-limit answers included), is slowed by TCP instead of growing our buffers.
   */
  updateReading(): void {
    const pause = this.inboundFull || this.outboundFull;
    if (pause && !this.ws.isPaused) this.ws.pause();
    else if (!pause && this.ws.isPaused) this.ws.resume();
  }

  /** Takes one token; false when the socket is over its rate. */
  take(ratePerSecond: number, burst: number, now: number): boolean {
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) / 1000) * ratePerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
