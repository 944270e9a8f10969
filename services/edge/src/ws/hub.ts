/**
 * Which local sockets sit in which channel, the broker subscriptions that serve them, and the writer.
 * A broker message is a route plus frame bytes serialised once upstream; the hub sends those same bytes to
 * every selected socket, and each socket gets at most one (corked) write per event-loop turn; the WebSocket frame
 * itself is built once per turn too (wire.ts), not once per socket. What a socket does
 * with a frame during its connect sequence (hold it, skip a replayed one) is the session's decision (session.ts).
 */
import { CLOSE, type Route } from '@qchat/protocol';
import type { Topics, Unsubscribe } from '@qchat/engine';
import type { Logger } from 'pino';
import type { EdgeMetrics } from '../metrics';
import { inspectBrokerMessage } from './broker-frames';
import { FrameCache } from './wire';
import type { WriteLimits } from './outbox';
import type { SendKind, Session, Writer } from './session';

const SUBSCRIBE_RETRY_MS = 1_000;
const RECENT_IDS = 256;
/** Arrival numbers kept per channel: far more counts than can arrive while one join reply is on its way. */
const RECENT_COUNTS = 16_384;

interface ChannelEntry {
  channel: string;
  sessions: Set<Session>;
  subscribed: Promise<Unsubscribe>;
  /** Ids of the frames delivered lately, oldest first (bounded). */
  recent: Set<string>;
  /** Arrival numbers of the channel's latest counts (bounded): a joiner's own count's copy tells older counts from newer. */
  counts: Map<string, number>;
  /** The channel's latest count frame. */
  lastCount?: Buffer;
  /** Coalescing of nb_users: the newest count waiting for the interval to end, and its timer. */
  countTimer?: NodeJS.Timeout;
  countPending?: { route: Route; frame: Buffer; seq: number };
}

export interface HubDeps extends WriteLimits {
  /** The engine's channel topics. */
  topics: Topics;
  /** nb_users updates to a channel's members go out at most once per this interval (0: every one). */
  nbUsersIntervalMs: number;
  metrics: EdgeMetrics;
  log: Logger;
}

export class Hub implements Writer {
  private readonly channels = new Map<string, ChannelEntry>();
  private dirty: Session[] = [];
  private scheduled = false;
  private droppedLoggedAt = 0;
  /** Frames queued this turn by kind: counted once per flush, not once per socket (a hot path). */
  private readonly sent = { broadcast: 0, private: 0, replay: 0 };
  private readonly flush = () => this.writeAll();
  /** Each frame of a turn built once, written as the same bytes to every socket that gets it (wire.ts). */
  private readonly frames = new FrameCache();
  private latest = 0;

  constructor(private readonly deps: HubDeps) {}

  /** Sends the channel's latest count to the session (see Session.expireReplay). */
  sendLatestCount(session: Session): void {
    const frame = this.channels.get(session.channel)?.lastCount;
    if (frame !== undefined) this.send(session, frame, 'broadcast');
  }

  /** When the count with this id reached the hub (its message number), if it did lately. */
  arrival(channel: string, id: string): number | undefined {
    return this.channels.get(channel)?.counts.get(id);
  }

  /**
   * Adds the session to its channel; resolves once the channel's topic subscription is in place, or rejects
   * when it could not be made (the broker is away). The hub then keeps trying while the channel has sessions,
   * so sockets that stay get broadcasts again as soon as the broker is back.
   */
  async attach(session: Session): Promise<void> {
    let entry = this.channels.get(session.channel);
    if (!entry) {
      entry = { channel: session.channel, sessions: new Set(), subscribed: Promise.resolve(async () => undefined), recent: new Set(), counts: new Map() };
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

  /** Sends a frame to one session (private reply, connect sequence): queued for this turn's write. */
  send(session: Session, frame: Buffer, kind: SendKind = 'private'): void {
    if (session.closed) return;
    if (!session.out.keepsUp(frame.length, this.deps, Date.now())) {
      this.closeSlow(session);
      return;
    }
    if (session.out.push(frame)) {
      this.dirty.push(session);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    }
    if (session.out.unsent > this.deps.maxBufferedBytes) session.outboundPressure(true);
    this.sent[kind]++;
  }

  /** The socket's write buffer emptied: read it again if unsent data was what paused it. */
  drained(session: Session): void {
    if (session.outboundPaused && session.out.unsent <= this.deps.maxBufferedBytes) session.outboundPressure(false);
  }

  /** Cuts the session when it has stopped draining (called by the keepalive sweep, so a quiet channel cuts it too). */
  checkStalled(session: Session): void {
    if (!session.closed && session.out.watched && !session.out.keepsUp(0, this.deps, Date.now())) this.closeSlow(session);
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
    const seq = ++this.latest;
    if (route.kind === 'nb_users') {
      entry.counts.set(route.id, seq);
      entry.lastCount = frame;
      if (entry.counts.size > RECENT_COUNTS) entry.counts.delete(entry.counts.keys().next().value!);
    }
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
    const arrivals = (id: string) => entry.counts.get(id);
    let reached = 0;
    for (const session of entry.sessions) {
      if (!selects(route, session)) continue;
      const offer = session.offer(route.id, frame, count, seq, this.deps, now, arrivals);
      if (offer === 'skip') continue;
      if (offer === 'overflow') {
        this.closeSlow(session);
        continue;
      }
      if (offer === 'send') this.send(session, frame, 'broadcast');
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
    for (const session of batch) if (!session.closed) session.out.flush(this.frames);
    this.frames.clear();
    for (const session of batch) this.drained(session);
  }

  private closeSlow(session: Session): void {
    const stalledMs = session.out.stalledMs(Date.now());
    const unsent = session.ws.bufferedAmount;
    if (!session.close(CLOSE.slowConsumer, 'slow consumer: the client stopped reading')) return;
    this.deps.metrics.slowConsumers.inc();
    this.deps.log.warn({ conn: session.id, channel: session.channel, unsent, stalledMs }, 'slow consumer closed');
  }
}

function selects(route: Route, session: Session): boolean {
  if (route.conn !== undefined) return route.conn === session.id;
  if (route.to !== undefined) return route.to === session.nick;
  return true;
}
