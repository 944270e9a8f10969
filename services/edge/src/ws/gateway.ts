/**
 * The WebSocket endpoint /channel/{channel}/ws: refuses unknown channels at the upgrade (HTTP 403, as
 * gischat's clients expect), gives each socket's connect sequence (session.ts) its steps, hands inbound frames to
 * their handler one at a time, keeps sockets alive with pings, and tells presence when a socket leaves.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { CLOSE, parseFrame, type Limits } from '@qchat/protocol';
import type { Logger } from 'pino';
import type { Backend } from '../backend';
import { addressResolver } from '../client-address';
import type { Rate } from '../token-bucket';
// An outage is logged once by the backend (backend-outage.ts): per-socket failures during it go to debug.
import { isOutage } from '../backend-outage';
import { closeReason, type EdgeMetrics } from '../metrics';
import type { BanList } from '../moderation/ban-list';
import { soundHistory } from './broker-frames';
import { precheck } from './frame-cost';
import { dispatch, reply, UNAVAILABLE, type HandlerContext } from './handlers';
import type { Hub } from './hub';
import { Session, type ConnectSteps } from './session';
import { loggedAddress, type AddressLogging } from './log-fields';

export interface GatewayConfig {
  CHANNELS: readonly string[];
  WS_PING_INTERVAL: number;
  WS_PING_TIMEOUT: number;
  WS_MAX_PAYLOAD_BYTES: number;
  WS_PERMESSAGE_DEFLATE: boolean;
  RATE_LIMIT_PER_SECOND: number;
  RATE_LIMIT_BURST: number;
  MAX_CONNECTIONS_PER_IP: number;
  TRUST_PROXY_HOPS: number;
  LOG_CLIENT_ADDRESS?: AddressLogging;
  limits: Limits;
  /** Inbound bytes per second per socket and the burst above it (at least WS_MAX_PAYLOAD_BYTES). */
  RATE_LIMIT_BYTES_PER_SECOND?: number;
  RATE_LIMIT_BYTES_BURST?: number;
  /** Open sockets on this edge; 0 = no cap. */
  MAX_CONNECTIONS?: number;
  /** Origins allowed to open a WebSocket (an upgrade without Origin, as the QGIS and QField plugins send, is allowed); empty = any. */
  ALLOWED_ORIGINS?: readonly string[];
  /** Proxies whose X-Forwarded-For is believed (addresses or CIDR ranges); empty = TRUST_PROXY_HOPS decides. */
  TRUSTED_PROXIES?: readonly string[];
}

export interface GatewayDeps {
  config: GatewayConfig;
  hub: Hub;
  backend: Backend;
  metrics: EdgeMetrics;
  log: Logger;
  /** Address bans checked at the upgrade. */
  bans?: BanList;
  /** Upgrades of other paths (the /matrix sockets): returns true when it took the request. */
  otherUpgrades?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
}

/** Longest a joiner waits for the channel's earlier frames and leaves on this edge (see `settled`). */
const JOIN_WAIT_MS = 1_000;

export function parseChannelPath(url: string | undefined): string | null {
  const path = (url ?? '').split('?')[0] ?? '';
  const m = /^\/channel\/([^/]+)\/ws$/.exec(path);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}

/** Answers a refused upgrade with the API's error shape, `{"detail": …}` (clients only look at the status). */
function refuse(socket: Duplex, status: number, text: string, detail: string): void {
  const body = JSON.stringify({ detail });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly perIp = new Map<string, number>();
  private readonly ctx: HandlerContext;
  /** The client's address of an upgrade (see client-address.ts for whom X-Forwarded-For is believed from). */
  private readonly addressOf: (req: IncomingMessage) => string;
  private readonly origins: ReadonlySet<string>;
  /** Inbound budgets of every socket (shared by their token buckets). */
  private readonly rates: { frames: Rate; bytes: Rate };
  private readonly steps: ConnectSteps;
  /** Sockets upgraded and not yet closed, for MAX_CONNECTIONS. */
  private open = 0;
  /** Work of each channel in progress on this edge (see `track` and `settled`). */
  private readonly inflight = new Map<string, Set<Promise<unknown>>>();
  private keepalive: NodeJS.Timeout | undefined;
  private accepting = true;
  /** While draining, closes are not reported one by one: presence drops the whole edge at once. */
  private draining = false;

  constructor(private readonly deps: GatewayDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.config.WS_MAX_PAYLOAD_BYTES,
      perMessageDeflate: deps.config.WS_PERMESSAGE_DEFLATE,
      clientTracking: false,
    });
    this.ctx = { backend: deps.backend, hub: deps.hub, log: deps.log };
    const c = deps.config;
    this.addressOf = addressResolver(c);
    this.origins = new Set(c.ALLOWED_ORIGINS ?? []);
    this.rates = {
      frames: { perSecond: c.RATE_LIMIT_PER_SECOND, burst: c.RATE_LIMIT_BURST },
      bytes: { perSecond: c.RATE_LIMIT_BYTES_PER_SECOND ?? Infinity, burst: Math.max(c.RATE_LIMIT_BYTES_BURST ?? Infinity, c.WS_MAX_PAYLOAD_BYTES) },
    };
    this.steps = {
      attach: (session) => this.attachToChannel(session),
      settled: (session) => this.settled(session.channel),
      join: (session) => this.join(session),
      history: (session) => this.history(session),
    };
  }

  attach(server: Server): void {
    server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    const tick = Math.max(250, Math.min(this.deps.config.WS_PING_TIMEOUT, this.deps.config.WS_PING_INTERVAL) * 250);
    this.keepalive = setInterval(() => this.sweep(), tick);
    this.keepalive.unref();
  }

  /**
   * Refuses new upgrades, closes every socket with 1001, and resolves when they are gone and the frames they
   * sent before have been handled (relay may still publish them to the other edges), or after timeoutMs.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.accepting = false;
    this.draining = true;
    clearInterval(this.keepalive);
    const sessions = [...this.deps.hub.sessions()];
    const gone = sessions.map((s) => new Promise<void>((resolve) => {
      if (s.ws.readyState === s.ws.CLOSED) return resolve();
      s.ws.once('close', () => resolve());
    }));
    for (const s of sessions) s.close(CLOSE.goingAway, 'server shutting down', timeoutMs);
    const deadline = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.all(gone), deadline]);
    for (const s of sessions) if (s.ws.readyState !== s.ws.CLOSED) s.ws.terminate();
    await Promise.race([Promise.allSettled(sessions.map((s) => s.idle)), deadline]);
    this.wss.close();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Listeners on the socket live as long as it does: none is a closure made here, which would keep this whole
    // scope — the upgrade request with its headers, about 1.5 KiB — alive for the socket's life.
    socket.on('error', destroySocket);
    const refused = (status: number, text: string, body: string) => {
      this.deps.metrics.upgradesRefused.inc({ status: String(status) });
      this.deps.log.debug({ status, reason: body, path: req.url, client: this.logged(this.addressOf(req)) }, 'upgrade refused');
      refuse(socket, status, text, body);
    };
    if (!this.accepting) return refused(503, 'Service Unavailable', 'Server shutting down.');
    // Origin, address bans and the edge's connection cap hold for every WebSocket, /matrix ones included.
    const origin = req.headers.origin;
    if (this.origins.size > 0 && origin !== undefined && !this.origins.has(origin)) return refused(403, 'Forbidden', 'Origin not allowed.');
    const ip = this.addressOf(req);
    if (this.deps.bans?.address(ip)) return refused(403, 'Forbidden', 'This address is banned by a moderator.');
    const total = this.deps.config.MAX_CONNECTIONS ?? 0;
    if (total > 0 && this.open >= total) return refused(503, 'Service Unavailable', 'Server full: too many connections.');
    const cap = this.deps.config.MAX_CONNECTIONS_PER_IP;
    if (cap > 0 && (this.perIp.get(ip) ?? 0) >= cap) return refused(429, 'Too Many Requests', 'Too many connections from this address.');
    if (this.deps.otherUpgrades?.(req, socket, head)) return this.admit(socket, ip);
    const channel = parseChannelPath(req.url);
    if (channel === null) return refused(403, 'Forbidden', 'Not a channel WebSocket path.');
    if (!this.deps.config.CHANNELS.includes(channel)) return refused(403, 'Forbidden', `Channel '${channel}' does not exist.`);
    this.admit(socket, ip);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket, channel, ip));
  }

  /**
   * Counts the socket in `open` (MAX_CONNECTIONS) and against its address (MAX_CONNECTIONS_PER_IP) from its upgrade
   * until it closes, channel and /matrix sockets alike; handshakes still in flight count, so upgrades sent in
   * parallel cannot pass the cap. `on`, not `once`: a socket closes once, and `once` would keep a wrapper, its state
   * and a bound function per socket (~150 B of heap each) for its whole life.
   */
  private admit(socket: Duplex, ip: string): void {
    this.open++;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    socket.on('close', () => this.release(ip));
  }

  private release(ip: string): void {
    this.open--;
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, left);
  }

  private onConnection(ws: WebSocket, socket: Duplex, channel: string, ip: string): void {
    const { metrics } = this.deps;
    const session = new Session(ws, socket, channel, ip, this.rates, Date.now());
    metrics.connections.inc({ channel });
    metrics.connectionsOpened.inc({ channel });
    this.deps.log.info({ conn: session.id, channel, client: this.logged(ip) }, 'connection opened');
    ws.on('message', (data, isBinary) => this.onMessage(session, data, isBinary));
    ws.on('pong', () => session.ponged());
    socket.on('drain', () => this.deps.hub.drained(session));
    ws.on('error', (err) => this.deps.log.debug({ err, conn: session.id }, 'socket error'));
    ws.on('close', (code, reason) => this.onClose(session, code, reason.toString('utf8'))); // `on`: see admit
    session.connect(this.steps, this.deps.hub).catch((err: unknown) => this.deps.log.error({ err, conn: session.id }, 'connect sequence failed'));
  }

  // The connect sequence's steps (session.ts runs them: nb_users first, then the history oldest first, then live frames).

  private async attachToChannel(session: Session): Promise<void> {
    try {
      await this.deps.hub.attach(session);
    } catch (err) {
      // The hub keeps retrying the subscription; meanwhile the socket gets its count and history if it can.
      this.deps.log.warn({ err, conn: session.id }, 'channel subscription failed');
      reply(this.ctx, session, UNAVAILABLE);
    }
  }

  private async join(session: Session): Promise<{ frameId: string; frame: Buffer } | null> {
    try {
      const joined = await this.deps.backend.join(session.channel, session.id, session.ip, session.since);
      return { frameId: joined.frameId, frame: Buffer.from(joined.frame) };
    } catch (err) {
      this.deps.log[isOutage(err) ? 'debug' : 'warn']({ err, conn: session.id }, 'presence join failed; the next heartbeat re-announces this socket');
      return null;
    }
  }

  private async history(session: Session): Promise<readonly string[]> {
    try {
      const { frames } = await this.deps.backend.history(session.channel);
      return soundHistory(frames, () => this.deps.metrics.brokerDropped.inc({ reason: 'history' }));
    } catch (err) {
      this.deps.log[isOutage(err) ? 'debug' : 'warn']({ err, conn: session.id }, 'history unavailable; connect sequence without replay');
      return [];
    }
  }

  private onMessage(session: Session, data: RawData, isBinary: boolean): void {
    const { config, metrics, log } = this.deps;
    if (session.closed) return;
    if (isBinary) {
      metrics.framesReceived.inc({ type: 'binary', outcome: 'refused' });
      log.debug({ conn: session.id, outcome: 'refused', reason: 'binary frame' }, 'frame rejected');
      session.close(CLOSE.unsupportedData, 'Binary frames are not supported');
      return;
    }
    const now = Date.now();
    if (!session.takeFrame(now)) {
      metrics.framesReceived.inc({ type: 'unknown', outcome: 'rate_limited' });
      log.debug({ conn: session.id, outcome: 'rate_limited' }, 'frame rejected');
      reply(this.ctx, session, 'Rate limit exceeded: too many messages, slow down');
      return;
    }
    // ws hands text frames over as one Buffer (binaryType 'nodebuffer').
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (!session.takeBytes(buf.length, now)) {
      metrics.framesReceived.inc({ type: 'unknown', outcome: 'rate_limited' });
      reply(this.ctx, session, 'Rate limit exceeded: too much data, slow down');
      return;
    }
    // A big frame whose type cannot be big is refused by its size, before any parsing.
    const tooBig = precheck(buf, config.limits);
    if (tooBig !== null) {
      metrics.framesReceived.inc({ type: 'unknown', outcome: 'too_large' });
      reply(this.ctx, session, tooBig);
      return;
    }
    const text = buf.toString('utf8');
    const handled = session.handleInOrder(() => this.handle(session, text), (err) => log.error({ err, conn: session.id }, 'frame handling failed'));
    // Only frames of sockets past their connect sequence: a connecting socket's frames wait for its own join, and
    // two joiners waiting for each other would stall until JOIN_WAIT_MS.
    if (session.phase === 'live') this.track(session.channel, handled);
  }

  /** Records work of a channel in progress on this edge (frames being handled, leaves): joiners wait for it. */
  private track(channel: string, work: Promise<unknown>): void {
    let set = this.inflight.get(channel);
    if (!set) {
      set = new Set();
      this.inflight.set(channel, set);
    }
    const entry = set;
    entry.add(work);
    const done = () => {
      entry.delete(work);
      if (entry.size === 0 && this.inflight.get(channel) === entry) this.inflight.delete(channel);
    };
    work.then(done, done);
  }

  /**
   * A joiner's count and history should include what this edge received before it: a message sent just before
   * the join, or a leave just before it, may still be on its way to relay or presence. Waits for that work (not
   * for anything later), at most JOIN_WAIT_MS.
   */
  private async settled(channel: string): Promise<void> {
    const before = this.inflight.get(channel);
    if (!before || before.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => { timer = setTimeout(resolve, JOIN_WAIT_MS); });
    await Promise.race([Promise.allSettled([...before]), cap]);
    clearTimeout(timer);
  }

  private async handle(session: Session, text: string): Promise<void> {
    const { metrics, config } = this.deps;
    const parsed = parseFrame(text, config.limits);
    if (!parsed.ok) {
      metrics.framesReceived.inc({ type: 'invalid', outcome: 'uncompliant' });
      this.deps.log.debug({ conn: session.id, outcome: 'uncompliant', reason: parsed.reason }, 'frame rejected');
      reply(this.ctx, session, parsed.reason);
      return;
    }
    metrics.framesReceived.inc({ type: parsed.frame.type, outcome: 'accepted' });
    await dispatch(this.ctx, session, parsed.frame, parsed.clientId === undefined ? {} : { clientId: parsed.clientId });
  }

  private onClose(session: Session, code: number, reason: string): void {
    const { hub, backend, metrics, log } = this.deps;
    const why = closeReason(code, this.draining);
    metrics.connectionsClosed.inc({ reason: why });
    log.info({ conn: session.id, channel: session.channel, nick: session.nick ?? undefined, durationMs: Date.now() - session.since, code, reason: reason || why, client: this.logged(session.ip) }, 'connection closed');
    session.socketClosed();
    hub.detach(session);
    metrics.connections.dec({ channel: session.channel });
    metrics.closes.inc({ code: String(code) });
    if (this.draining) return;
    const leaving = session.after(
      () => backend.leave(session.channel, session.id),
      (err) => log[isOutage(err) ? 'debug' : 'warn']({ err, conn: session.id }, 'presence leave failed; the next heartbeat corrects it'),
    );
    this.track(session.channel, leaving);
  }

  private logged(ip: string): string | undefined {
    return loggedAddress(ip, this.deps.config.LOG_CLIENT_ADDRESS);
  }

  /** Pings every WS_PING_INTERVAL; a socket that does not answer within WS_PING_TIMEOUT is closed (1011). */
  private sweep(): void {
    const now = Date.now();
    const interval = this.deps.config.WS_PING_INTERVAL * 1000;
    const timeout = this.deps.config.WS_PING_TIMEOUT * 1000;
    for (const session of this.deps.hub.sessions()) {
      this.deps.hub.checkStalled(session);
      if (session.closed) continue;
      if (session.expireReplay(now) === 'count') this.deps.hub.sendLatestCount(session);
      if (!session.keepalive(now, interval, timeout)) session.close(CLOSE.internal, 'keepalive ping timeout');
    }
  }
}

/** A socket error ends the socket (ws and the HTTP server report it elsewhere); one function for every socket. */
function destroySocket(this: Duplex): void {
  this.destroy();
}
