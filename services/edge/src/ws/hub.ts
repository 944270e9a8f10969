/**
 * Which local sockets sit in which channel, the broker subscriptions that serve them, and the writer.
 * A broker message is a route plus frame bytes serialised once upstream; the hub sends those same bytes to
 * every selected socket, and each socket gets at most one (corked) write per event-loop turn.
 */
import { CLOSE, type Route } from '@qchat/protocol';
import type { Topics, Unsubscribe } from '@qchat/engine';
import type { Logger } from 'pino';
import type { EdgeMetrics } from '../metrics';
import { inspectBrokerMessage } from './broker-frames';
import type { Session } from './session';

const SUBSCRIBE_RETRY_MS = 1_000;
const RECENT_IDS = 256;
/** How long after its replay a session still skips live copies of replayed messages. */
const REPLAY_DEDUP_MS = 5_000;

interface ChannelEntry {
  channel: string;
  sessions: Set<Session>;
  subscribed: Promise<Unsubscribe>;
  /** Ids of the frames delivered lately, oldest first (bounded). */
  recent: Set<string>;
  /** Coalescing of nb_users: the newest count waiting for the interval to end, and its timer. */
  countTimer?: NodeJS.Timeout;
  countPending?: { route: Route; frame: Buffer; seq: number };
}

export interface HubDeps {
  /** The engine's channel topics. */
  topics: Topics;
  /** Unsent data a socket may hold without draining any of it (see `keepsUp`). */
  maxBufferedBytes: number;
  /** How long a socket over maxBufferedBytes may go without draining a byte before it is cut as a slow consumer. */
  stallTimeoutMs: number;
  /** Unsent data no socket may pass, draining or not: bounds what one socket can hold. */
  maxUnsentBytes: number;
  /** nb_users updates to a channel's members go out at most once per this interval (0: every one). */
  nbUsersIntervalMs: number;
  metrics: EdgeMetrics;
  log: Logger;
}

export class Hub {
  private readonly channels = new Map<string, ChannelEntry>();
  private dirty: Session[] = [];
  private scheduled = false;
  private droppedLoggedAt = 0;
  /** Frames queued this turn by kind: counted once per flush, not once per socket (a hot path). */
  private readonly sent = { broadcast: 0, private: 0, replay: 0 };
  private readonly flush = () => this.writeAll();
  /** Number of the latest broker message: tells a count that arrived before a joiner's own count from one after. */
  private seq = 0;

  constructor(private readonly deps: HubDeps) {}

  /**
   * Adds the session to its channel; resolves once the channel's topic subscription is in place, or rejects
   * when it could not be made (the broker is away). The hub then keeps trying while the channel has sessions,
   * so sockets that stay get broadcasts again as soon as the broker is back.
   */
  async attach(session: Session): Promise<void> {
    let entry = this.channels.get(session.channel);
    if (!entry) {
      entry = { channel: session.channel, sessions: new Set(), subscribed: Promise.resolve(async () => undefined), recent: new Set() };
      this.channels.set(session.channel, entry);
      this.subscribe(entry);
    }
    entry.sessions.add(session);
    await entry.subscribed;
  }

  private subscribe(entry: ChannelEntry): void {
    const channel = entry.channel;
    entry.subscribed = this.deps.topics.subscribe(channel, (payload) => this.deliver(channel, payload));
    entry.subscribed.then(
      () => this.deps.metrics.subscriptions.set(this.channels.size),
      (err: unknown) => {
        this.deps.log.warn({ err, channel }, 'subscribe failed; retrying');
        setTimeout(() => {
          if (this.channels.get(channel) === entry) this.subscribe(entry);
        }, SUBSCRIBE_RETRY_MS).unref();
      },
    );
  }

  /** True when a frame with this id was delivered to the channel lately (its sender's reply may have been lost). */
  delivered(channel: string, id: string): boolean {
    return this.channels.get(channel)?.recent.has(id) ?? false;
  }

  /** Removes the session; the last one out of a channel unsubscribes from its topic. */
  detach(session: Session): void {
    const entry = this.channels.get(session.channel);
    if (!entry || !entry.sessions.delete(session) || entry.sessions.size > 0) return;
    this.channels.delete(session.channel);
    clearTimeout(entry.countTimer);
    entry.subscribed.then((unsubscribe) => unsubscribe()).then(
      () => this.deps.metrics.subscriptions.set(this.channels.size),
      (err: unknown) => this.deps.log.debug({ err, channel: session.channel }, 'unsubscribe failed'),
    );
  }

  sessions(): Iterable<Session> {
    const all = [...this.channels.values()];
    return (function* () {
      for (const e of all) yield* e.sessions;
    })();
  }

  count(): number {
    let n = 0;
    for (const e of this.channels.values()) n += e.sessions.size;
    return n;
  }

  /** Sends a frame to one session (private reply, connect sequence). */
  send(session: Session, frame: Buffer, kind: 'private' | 'replay' | 'broadcast' = 'private'): void {
    if (session.closed) return;
    if (!this.keepsUp(session, frame.length)) {
      this.closeSlow(session);
      return;
    }
    session.pending.push(frame);
    session.pendingBytes += frame.length;
    if (!session.outboundFull && session.pendingBytes + session.ws.bufferedAmount > this.deps.maxBufferedBytes) {
      session.outboundFull = true;
      session.updateReading();
    }
    this.sent[kind]++;
    if (!session.dirty) {
      session.dirty = true;
      this.dirty.push(session);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    }
  }

  /**
   * The joiner's own nb_users (from its join reply), sent first. The same frame's broadcast copy, and any count that
   * reached this edge before it (older news), are then never sent to this session.
   */
  sendCount(session: Session, frameId: string, frame: Buffer): void {
    session.countId = frameId;
    session.countSeq = this.seq;
    this.send(session, frame, 'private');
  }

  /** Ends the connect sequence: frames that arrived meanwhile go out now, minus those already sent. */
  release(session: Session): void {
    const held = session.held ?? [];
    const seen = session.seen;
    session.replaying = false;
    session.held = null;
    session.heldBytes = 0;
    // A replayed message's live copy can still be on its way (its publish raced the history read): keep the
    // replayed ids a few seconds more, so it is skipped then too.
    session.seenUntil = Date.now() + REPLAY_DEDUP_MS;
    for (const h of held) {
      if (seen?.has(h.id) || (h.count && staleCount(session, h.id, h.seq))) continue;
      this.send(session, h.frame, 'broadcast');
    }
  }

  /**
   * The slow-consumer rule: a socket is cut when it stops reading, not because a frame is big. Unsent data up to
   * maxBufferedBytes is always fine; above it the socket must keep draining (some bytes leave for the network at
   * least once per stallTimeoutMs), and it may never pass maxUnsentBytes. A phone receiving a history of five big
   * photos over a slow link keeps draining and stays; a client that stopped reading drains nothing and is cut.
   */
  private keepsUp(session: Session, adding: number): boolean {
    const buffered = session.ws.bufferedAmount;
    const unsent = buffered + session.pendingBytes + adding;
    if (unsent > this.deps.maxUnsentBytes) return false;
    if (unsent <= this.deps.maxBufferedBytes) {
      session.progressAt = 0;
      return true;
    }
    const drained = session.written - buffered;
    const now = Date.now();
    if (session.progressAt === 0 || drained > session.drained) {
      session.drained = drained;
      session.progressAt = now;
      return true;
    }
    return now - session.progressAt < this.deps.stallTimeoutMs;
  }

  /** The socket's write buffer emptied: read it again if unsent data was what paused it. */
  drained(session: Session): void {
    if (session.outboundFull && !session.closed && session.pendingBytes + session.ws.bufferedAmount <= this.deps.maxBufferedBytes) {
      session.outboundFull = false;
      session.updateReading();
    }
  }

  /** Cuts the session when it has stopped draining (called by the keepalive sweep, so a quiet channel cuts it too). */
  checkStalled(session: Session): void {
    if (!session.closed && session.progressAt !== 0 && !this.keepsUp(session, 0)) this.closeSlow(session);
  }

  private deliver(channel: string, payload: Buffer): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    const decoded = inspectBrokerMessage(payload);
    if (!decoded.ok) {
      this.deps.metrics.brokerDropped.inc({ reason: decoded.reason });
      // A flood of forged messages is counted in full but logged at most once a second.
      const now = Date.now();
      if (now - this.droppedLoggedAt >= 1_000) {
        this.droppedLoggedAt = now;
        this.deps.log.warn({ channel, bytes: payload.length, reason: decoded.reason }, 'broker message dropped');
      }
      return;
    }
    const { route, frame } = decoded;
    const seq = ++this.seq;
    if (route.kind === 'nb_users' && this.deps.nbUsersIntervalMs > 0) {
      this.coalesceCount(entry, route, frame, seq);
      return;
    }
    this.fanOut(entry, route, frame, seq);
  }

  /**
   * A join storm makes one nb_users per join: O(N²) frames. The first update of a quiet channel goes out at
   * once; later ones within the interval collapse into the newest, sent when the interval ends. A joiner
   * still gets its own count first, from the join reply.
   */
  private coalesceCount(entry: ChannelEntry, route: Route, frame: Buffer, seq: number): void {
    if (entry.countTimer) {
      entry.countPending = { route, frame, seq };
      return;
    }
    this.fanOut(entry, route, frame, seq);
    const tick = () => {
      const pending = entry.countPending;
      entry.countPending = undefined;
      entry.countTimer = undefined;
      if (!pending || this.channels.get(entry.channel) !== entry) return;
      this.fanOut(entry, pending.route, pending.frame, pending.seq);
      entry.countTimer = setTimeout(tick, this.deps.nbUsersIntervalMs);
      entry.countTimer.unref();
    };
    entry.countTimer = setTimeout(tick, this.deps.nbUsersIntervalMs);
    entry.countTimer.unref();
  }

  private fanOut(entry: ChannelEntry, route: Route, frame: Buffer, seq: number): void {
    entry.recent.add(route.id);
    if (entry.recent.size > RECENT_IDS) entry.recent.delete(entry.recent.values().next().value!);
    const count = route.kind === 'nb_users';
    const now = Date.now();
    let reached = 0;
    for (const session of entry.sessions) {
      if (!selects(route, session)) continue;
      if (session.replaying) {
        // Held frames count against the same ceiling as unsent ones: a connect sequence that stalls cannot hoard.
        session.heldBytes += frame.length;
        if (session.heldBytes + session.pendingBytes > this.deps.maxUnsentBytes) {
          this.closeSlow(session);
          continue;
        }
        session.held?.push({ id: route.id, frame, count, seq });
      } else {
        if (count && staleCount(session, route.id, seq)) continue;
        if (session.seen !== null && replayedLately(session, route.id, now)) continue;
        this.send(session, frame, 'broadcast');
      }
      reached++;
    }
    this.deps.metrics.deliveries.inc(reached);
  }

  private writeAll(): void {
    const batch = this.dirty;
    this.dirty = [];
    this.scheduled = false;
    for (const kind of ['broadcast', 'private', 'replay'] as const) {
      if (this.sent[kind] > 0) this.deps.metrics.framesSent.inc({ kind }, this.sent[kind]);
      this.sent[kind] = 0;
    }
    for (const session of batch) {
      session.dirty = false;
      const frames = session.pending;
      session.pending = [];
      session.pendingBytes = 0;
      if (session.closed || frames.length === 0) continue;
      if (frames.length === 1) {
        session.written += frames[0]!.length;
        session.ws.send(frames[0]!, { binary: false });
        continue;
      }
      session.socket.cork();
      for (const f of frames) {
        session.written += f.length;
        session.ws.send(f, { binary: false });
      }
      session.socket.uncork();
    }
    for (const session of batch) if (session.outboundFull) this.drained(session);
  }

  private closeSlow(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    session.pending = [];
    session.pendingBytes = 0;
    this.deps.metrics.slowConsumers.inc();
    this.deps.log.warn({ conn: session.id, channel: session.channel, unsent: session.ws.bufferedAmount, stalledMs: session.progressAt ? Date.now() - session.progressAt : 0 }, 'slow consumer closed');
    session.ws.close(CLOSE.slowConsumer, 'slow consumer: the client stopped reading');
    setTimeout(() => session.ws.terminate(), 1000).unref();
  }
}

/** True when the frame was sent in the session's replay moments ago; forgets the replayed ids once that is over. */
function replayedLately(session: Session, id: string, now: number): boolean {
  if (now > session.seenUntil) {
    session.seen = null;
    return false;
  }
  return session.seen?.has(id) ?? false;
}

/** A count the session must not get: the copy of its own first count, or one older than it. */
function staleCount(session: Session, id: string, seq: number): boolean {
  return id === session.countId || seq <= session.countSeq;
}

function selects(route: Route, session: Session): boolean {
  if (route.conn !== undefined) return route.conn === session.id;
  if (route.to !== undefined) return route.to === session.nick;
  return true;
}
