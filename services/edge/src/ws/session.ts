/**
 * One client socket in one chat channel, and the one owner of its state. Its life is a small state machine:
 *
 *   connecting ──▶ replaying ──▶ live
 *        └────────────┴────────────┴──▶ closing ──▶ closed      (a socket may close in any phase)
 *
 * - connecting: attached to its channel in the hub (so nothing published from now on is missed), waiting for the
 *   channel's earlier work on this edge, then asking presence.join. Broker frames for it are held.
 * - replaying: its own nb_users went out first, then the history oldest first. Broker frames are still held.
 * - live: held frames went out, minus the replayed ids and the counts older than its own; for REPLAY_DEDUP_MS more,
 *   live copies of replayed ids are skipped too. Then the replay state is dropped.
 * - closing: a close was started by the edge (slow consumer, keepalive, shutdown); nothing more is written.
 * - closed: the socket is gone.
 *
 * Transitions are the methods below; an illegal one throws (a bug, never client input). The hub's writer and the
 * gateway call them; nothing else writes a session's fields. Thousands live at once: an idle live socket holds no
 * held frames, no replayed ids, no queued frames.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { storedId } from '@qchat/protocol';
import { TokenBucket, type Rate } from '../token-bucket';
import { Outbox, type WriteLimits } from './outbox';

export type Phase = 'connecting' | 'replaying' | 'live' | 'closing' | 'closed';
export type SendKind = 'private' | 'replay' | 'broadcast';

const NEXT: Readonly<Record<Phase, readonly Phase[]>> = {
  connecting: ['replaying', 'closing', 'closed'],
  replaying: ['live', 'closing', 'closed'],
  live: ['closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

/** How long after its replay a session still skips live copies of replayed messages (a publish that raced the read). */
const REPLAY_DEDUP_MS = 5_000;
/** Inbound frames waiting for their turn on one socket before the edge stops reading it, and resumes. */
const PAUSE_AT_QUEUED = 32;
const RESUME_AT_QUEUED = 8;
/** A close the client does not complete is cut after this long. */
const CLOSE_GRACE_MS = 1_000;

/** The hub's writer, as a session's connect sequence uses it. */
export interface Writer {
  /** Queues a frame for this turn's write to the session. */
  send(session: Session, frame: Buffer, kind: SendKind): void;
  /**
   * When the broker message with this id (a count) reached the hub, as the hub's message number; undefined when it has
   * not (yet). Counts reach the hub in the order presence published them, so this tells an older count from a newer one.
   */
  arrival(channel: string, id: string): number | undefined;
}

/** What the connect sequence asks of the edge; one object (the gateway's) serves every session. None of them rejects. */
export interface ConnectSteps {
  /** Adds the session to its channel in the hub, with the topic subscription in place when the broker allows. */
  attach(session: Session): Promise<void>;
  /** Resolves once the channel's earlier work on this edge (frames, leaves) is done, or after a bound. */
  settled(session: Session): Promise<void>;
  /** presence.join: the joiner's own nb_users frame, or null when presence could not be asked. */
  join(session: Session): Promise<{ frameId: string; frame: Buffer } | null>;
  /** relay.history: the sound stored frames, oldest first ([] when relay could not be asked). */
  history(session: Session): Promise<readonly string[]>;
}

/** What the hub does with a broker frame selected for this session. */
export type Offer = 'send' | 'held' | 'skip' | 'overflow';

/** A broker frame that arrived while the session was in its connect sequence. */
interface Held { id: string; frame: Buffer; count: boolean; seq: number }

/** The connect sequence's memory: from connect until the de-dup window after release ends. */
interface Replay {
  /** Broker frames waiting for the end of the sequence (null once released). */
  held: Held[] | null;
  heldBytes: number;
  /** Ids sent in the replay, so their live copies are skipped. */
  seen: Set<string>;
  /**
   * The joiner's own count (from its join reply): its broadcast copy, and counts that reached the hub before that copy
   * (published before it), are not sent; counts that reached the hub after it are newer and are. `countSeq` is the
   * copy's arrival number, undefined until it has arrived.
   */
  countId: string | null;
  countSeq: number | undefined;
  /** A count was skipped while the own copy had not arrived: if it never does, the channel's latest is sent at expiry. */
  unresolved: boolean;
  /** End of the de-dup window (set at release). */
  until: number;
}

export class Session {
  readonly id: string = randomUUID();
  private state: Phase = 'connecting';
  private replay: Replay | null = null;
  /** Nickname registered by this socket (one per socket; a second `newcomer` replaces it). */
  private nickname: string | null = null;
  /** The hub's writer state of this socket. */
  readonly out: Outbox;
  /** Work on this socket runs one piece after another: the connect sequence, each inbound frame, the leave. */
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Reading is paused while inbound frames pile up or unsent data does: see `updateReading`. */
  private inboundFull = false;
  private outboundFull = false;
  private readonly frameBudget: TokenBucket;
  private readonly byteBudget: TokenBucket;
  /** Keepalive: when the unanswered ping was sent (0: none outstanding), and when the last ping went. */
  private awaitingPongSince = 0;
  private lastPingAt: number;

  constructor(
    readonly ws: WebSocket,
    socket: Duplex,
    readonly channel: string,
    readonly ip: string,
    rates: { frames: Rate; bytes: Rate },
    /** When the socket was accepted (ms): close log duration, presence metadata for moderators. */
    readonly since: number,
  ) {
    this.out = new Outbox(ws, socket);
    this.frameBudget = new TokenBucket(rates.frames, since);
    this.byteBudget = new TokenBucket(rates.bytes, since);
    this.lastPingAt = since;
  }

  get phase(): Phase {
    return this.state;
  }

  /** True once the edge started closing it, or it is gone: nothing more is written or read. */
  get closed(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  get nick(): string | null {
    return this.nickname;
  }

  /** Presence registered `nick` for this socket. */
  registered(nick: string): void {
    this.nickname = nick;
  }

  /** The socket holds no nickname any more (released with an exiter, or lost by presence). */
  released(): void {
    this.nickname = null;
  }

  /** Resolves when the work queued on this socket so far is done. */
  get idle(): Promise<void> {
    return this.chain;
  }

  // ---------------------------------------------------------------- connect sequence

  /**
   * Runs the connect sequence: attach, wait for the channel's earlier work, own nb_users first, history oldest first,
   * then release what arrived meanwhile. Queued as the socket's first work: its inbound frames wait for it.
   */
  connect(steps: ConnectSteps, writer: Writer): Promise<void> {
    if (this.state !== 'connecting' || this.replay !== null) throw new Error(`session ${this.id}: connect in phase ${this.state}`);
    this.replay = { held: [], heldBytes: 0, seen: new Set(), countId: null, countSeq: undefined, unresolved: false, until: Infinity };
    this.chain = this.sequence(steps, writer);
    return this.chain;
  }

  private async sequence(steps: ConnectSteps, writer: Writer): Promise<void> {
    await steps.attach(this);
    await steps.settled(this);
    // Joined even when the socket closed meanwhile: its leave follows on the same chain, so presence sees both.
    const count = await steps.join(this);
    if (this.closed) return;
    this.to('replaying');
    const replay = this.replay!;
    if (count !== null) {
      replay.countId = count.frameId;
      writer.send(this, count.frame, 'private');
    }
    const frames = await steps.history(this);
    for (const frame of frames) {
      if (this.closed) return;
      const id = storedId(frame);
      if (id !== undefined) replay.seen.add(id);
      writer.send(this, Buffer.from(frame), 'replay');
    }
    if (this.closed) return;
    this.release(writer, Date.now());
  }

  /** replaying → live: frames that arrived meanwhile go out now, minus those replayed and counts older than its own. */
  private release(writer: Writer, now: number): void {
    this.to('live');
    const replay = this.replay!;
    const held = replay.held ?? [];
    replay.held = null;
    replay.heldBytes = 0;
    replay.until = now + REPLAY_DEDUP_MS;
    const arrivals = (id: string) => writer.arrival(this.channel, id);
    for (const h of held) {
      if (replay.seen.has(h.id) || (h.count && staleCount(replay, h.id, h.seq, arrivals))) continue;
      writer.send(this, h.frame, 'broadcast');
    }
  }

  /**
   * A broker frame the hub selected for this socket: held during the connect sequence (within the socket's unsent
   * ceiling), skipped when it is a replayed message or a stale count, else sent.
   */
  offer(id: string, frame: Buffer, count: boolean, seq: number, limits: WriteLimits, now: number, arrivals: (id: string) => number | undefined): Offer {
    if (this.closed) return 'skip';
    const replay = this.replay;
    if (replay === null) return 'send';
    if (replay.held !== null) {
      // Held frames count against the same ceiling as unsent ones: a connect sequence that stalls cannot hoard.
      replay.heldBytes += frame.length;
      if (replay.heldBytes + this.out.queued > limits.maxUnsentBytes) return 'overflow';
      replay.held.push({ id, frame, count, seq });
      return 'held';
    }
    if (this.state === 'live' && now > replay.until) return 'send';
    if (count && staleCount(replay, id, seq, arrivals)) return 'skip';
    return replay.seen.has(id) ? 'skip' : 'send';
  }

  /**
   * Drops the replay state once the de-dup window is over (the keepalive sweep calls this). 'count' when counts were
   * skipped waiting for the joiner's own copy, which never came (a broker gap): the caller then sends the channel's
   * latest count, so the socket is not left on its own, older one.
   */
  expireReplay(now: number): 'kept' | 'gone' | 'count' {
    const replay = this.replay;
    if (replay === null) return 'gone';
    if (this.state !== 'live' || now <= replay.until) return 'kept';
    this.replay = null;
    return replay.unresolved && replay.countSeq === undefined ? 'count' : 'gone';
  }

  // ---------------------------------------------------------------- closing

  /** live/connecting/replaying → closing: sends the close frame, and cuts the socket if the client does not answer. */
  close(code: number, reason: string, graceMs = CLOSE_GRACE_MS): boolean {
    if (this.closed) return false;
    this.to('closing');
    this.drop();
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), graceMs).unref();
    return true;
  }

  /** → closed: the socket is gone (its 'close' event). */
  socketClosed(): void {
    if (this.state === 'closed') return;
    this.to('closed');
    this.drop();
  }

  private drop(): void {
    this.out.clear();
    this.replay = null;
  }

  private to(next: Phase): void {
    if (!NEXT[this.state].includes(next)) throw new Error(`session ${this.id}: illegal transition ${this.state} → ${next}`);
    this.state = next;
  }

  // ---------------------------------------------------------------- inbound

  /** Takes one frame from the rate budget; false when the socket is over its rate. */
  takeFrame(now: number): boolean {
    return this.frameBudget.take(now);
  }

  /** Takes `bytes` from the byte budget; false when the socket is over it (nothing is taken then). */
  takeBytes(bytes: number, now: number): boolean {
    return this.byteBudget.take(now, bytes);
  }

  /**
   * Queues the handling of an inbound frame after the work before it, so a sender's messages keep their order.
   * Backpressure, not refusal: with too many frames waiting, reading stops (TCP pushes back on the client) until
   * the queue has drained; every frame still gets its outcome, in order.
   */
  handleInOrder(work: () => Promise<void>, onError: (err: unknown) => void): Promise<void> {
    if (++this.queued >= PAUSE_AT_QUEUED && !this.inboundFull) {
      this.inboundFull = true;
      this.updateReading();
    }
    this.chain = this.chain.then(work).catch(onError).finally(() => {
      if (--this.queued <= RESUME_AT_QUEUED && this.inboundFull) {
        this.inboundFull = false;
        this.updateReading();
      }
    });
    return this.chain;
  }

  /** Queues work after everything queued so far (the leave after the last frame); its failure goes to `onError`. */
  after(work: () => Promise<unknown>, onError: (err: unknown) => void): Promise<void> {
    this.chain = this.chain.then(work).then(() => undefined, onError);
    return this.chain;
  }

  /** The writer tells whether unsent data is over its bound: reading pauses while it is. */
  outboundPressure(full: boolean): void {
    if (this.outboundFull === full || (!full && this.closed)) return;
    this.outboundFull = full;
    this.updateReading();
  }

  get outboundPaused(): boolean {
    return this.outboundFull;
  }

  /**
   * Reads the socket only while neither side is full: a client that sends faster than it is served, or than it
   * reads its own replies (rate-limit answers included), is slowed by TCP instead of growing our buffers.
   */
  private updateReading(): void {
    const pause = this.inboundFull || this.outboundFull;
    if (pause && !this.ws.isPaused) this.ws.pause();
    else if (!pause && this.ws.isPaused) this.ws.resume();
  }

  // ---------------------------------------------------------------- keepalive

  ponged(): void {
    this.awaitingPongSince = 0;
  }

  /** One keepalive step: pings when due; false when the pong is overdue (the caller closes the socket). */
  keepalive(now: number, intervalMs: number, timeoutMs: number): boolean {
    if (this.awaitingPongSince > 0) {
      // While we do not read the socket its pong waits unread: the stall rule judges it then, not the ping.
      if (this.ws.isPaused) this.awaitingPongSince = now;
      else if (now - this.awaitingPongSince > timeoutMs) return false;
    } else if (now - this.lastPingAt >= intervalMs) {
      this.lastPingAt = now;
      this.awaitingPongSince = now;
      this.ws.ping();
    }
    return true;
  }
}

/**
 * A count the session must not get: its own count's broadcast copy, or a count older than it (one that reached the
 * hub before the copy, or while the copy has not arrived yet). Arrival order, not the moment the join reply came back:
 * a newer count can reach the edge over the broker before the reply does over NATS.
 */
function staleCount(replay: Replay, id: string, seq: number, arrivals: (id: string) => number | undefined): boolean {
  if (replay.countId === null) return false;
  if (id === replay.countId) {
    replay.countSeq = seq;
    return true;
  }
  replay.countSeq ??= arrivals(replay.countId);
  if (replay.countSeq !== undefined) return seq <= replay.countSeq;
  replay.unresolved = true;
  return true;
}
