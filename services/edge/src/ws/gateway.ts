/**
 * The WebSocket endpoint /channel/{channel}/ws: refuses unknown channels at the upgrade (HTTP 403, as
 * gischat's clients expect), runs the connect sequence (nb_users, then history oldest first, then live
 * frames), hands inbound frames to their handler one at a time, keeps sockets alive with pings, and
 * tells presence when a socket leaves.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { CLOSE, parseFrame, type Limits } from '@qchat/protocol';
import type { Logger } from 'pino';
import type { Backend } from '../backend';
// An outage is logged once by the backend (backend-outage.ts): per-socket failures during it go to debug.
import { isOutage } from '../backend-outage';
import { closeReason, type EdgeMetrics } from '../metrics';
import { dispatch, reply, UNAVAILABLE, type HandlerContext } from './handlers';
import type { Hub } from './hub';
import { Session } from './session';
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
}

export interface GatewayDeps {
  config: GatewayConfig;
  hub: Hub;
  backend: Backend;
  metrics: EdgeMetrics;
  log: Logger;
}

/** Inbound frames waiting for their turn on one socket before the edge stops reading it, and resumes. */
const PAUSE_AT_QUEUED = 32;
const RESUME_AT_QUEUED = 8;
const STORED_ID = /"id":"([^"]+)"/;

/**
 * The client's address: the socket's peer, or behind `trustedHops` proxies that each append the address they
 * saw to X-Forwarded-For, the entry the outermost trusted proxy appended (entries further left are the
 * client's own claims and cannot be trusted).
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustedHops <= 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  return hops[hops.length - trustedHops] ?? hops[0] ?? peer;
}

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
    for (const s of sessions) s.ws.close(CLOSE.goingAway, 'server shutting down');
    const deadline = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.all(gone), deadline]);
    for (const s of sessions) if (s.ws.readyState !== s.ws.CLOSED) s.ws.terminate();
    await Promise.race([Promise.allSettled(sessions.map((s) => s.chain)), deadline]);
    this.wss.close();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const refused = (status: number, text: string, body: string) => {
      this.deps.metrics.upgradesRefused.inc({ status: String(status) });
      this.deps.log.debug({ status, reason: body, path: req.url, client: this.logged(clientAddress(req, this.deps.config.TRUST_PROXY_HOPS)) }, 'upgrade refused');
      refuse(socket, status, text, body);
    };
    if (!this.accepting) return refused(503, 'Service Unavailable', 'Server shutting down.');
    const channel = parseChannelPath(req.url);
    if (channel === null) return refused(403, 'Forbidden', 'Not a channel WebSocket path.');
    if (!this.deps.config.CHANNELS.includes(channel)) return refused(403, 'Forbidden', `Channel '${channel}' does not exist.`);
    const ip = clientAddress(req, this.deps.config.TRUST_PROXY_HOPS);
    const cap = this.deps.config.MAX_CONNECTIONS_PER_IP;
    if (cap > 0 && (this.perIp.get(ip) ?? 0) >= cap) return refused(429, 'Too Many Requests', 'Too many connections from this address.');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket, channel, ip));
  }

  private onConnection(ws: WebSocket, socket: Duplex, channel: string, ip: string): void {
    const { config, metrics } = this.deps;
    const session = new Session(ws, socket, channel, ip, config.RATE_LIMIT_BURST, Date.now());
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    metrics.connections.inc({ channel });
    metrics.connectionsOpened.inc({ channel });
    this.deps.log.info({ conn: session.id, channel, client: this.logged(ip) }, 'connection opened');
    ws.on('message', (data, isBinary) => this.onMessage(session, data, isBinary));
    ws.on('pong', () => { session.awaitingPongSince = 0; });
    ws.on('error', (err) => this.deps.log.debug({ err, conn: session.id }, 'socket error'));
    ws.once('close', (code, reason) => this.onClose(session, code, reason.toString('utf8')));
    session.chain = this.connect(session);
  }

  /** nb_users first (also broadcast to the others), then the history oldest first, then what arrived meanwhile. */
  private async connect(session: Session): Promise<void> {
    const { hub, backend, log } = this.deps;
    try {
      await hub.attach(session);
    } catch (err) {
      // The hub keeps retrying the subscription; meanwhile the socket gets its count and history if it can.
      log.warn({ err, conn: session.id }, 'channel subscription failed');
      reply(this.ctx, session, UNAVAILABLE);
    }
    try {
      const joined = await backend.join(session.channel, session.id);
      session.seen?.add(joined.frameId);
      hub.send(session, Buffer.from(joined.frame), 'private');
    } catch (err) {
      log[isOutage(err) ? 'debug' : 'warn']({ err, conn: session.id }, 'presence join failed; the next heartbeat re-announces this socket');
    }
    try {
      const { frames } = await backend.history(session.channel);
      for (const frame of frames) {
        const id = STORED_ID.exec(frame.slice(0, 256))?.[1];
        if (id) session.seen?.add(id);
        hub.send(session, Buffer.from(frame), 'replay');
      }
    } catch (err) {
      log[isOutage(err) ? 'debug' : 'warn']({ err, conn: session.id }, 'history unavailable; connect sequence without replay');
    }
    hub.release(session);
  }

  private onMessage(session: Session, data: RawData, isBinary: boolean): void {
    const { config, metrics, log } = this.deps;
    if (session.closed) return;
    if (isBinary) {
      metrics.framesReceived.inc({ type: 'binary', outcome: 'refused' });
      log.debug({ conn: session.id, outcome: 'refused', reason: 'binary frame' }, 'frame rejected');
      session.ws.close(CLOSE.unsupportedData, 'Binary frames are not supported');
      return;
    }
    if (!session.take(config.RATE_LIMIT_PER_SECOND, config.RATE_LIMIT_BURST, Date.now())) {
      metrics.framesReceived.inc({ type: 'unknown', outcome: 'rate_limited' });
      log.debug({ conn: session.id, outcome: 'rate_limited' }, 'frame rejected');
      reply(this.ctx, session, 'Rate limit exceeded: too many messages, slow down');
      return;
    }

    // ws hands text frames over as one Buffer (binaryType 'nodebuffer'): decode it without copying.
    const text = (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
    // Backpressure, not refusal: with too many frames waiting, stop reading this socket (TCP pushes back on the
    // client) until the queue has drained; every frame still gets its outcome, in order.
    if (++session.queued >= PAUSE_AT_QUEUED && !session.ws.isPaused) session.ws.pause();
    session.chain = session.chain
      .then(() => this.handle(session, text))
      .catch((err: unknown) => log.error({ err, conn: session.id }, 'frame handling failed'))
      .finally(() => {
        if (--session.queued <= RESUME_AT_QUEUED && session.ws.isPaused) session.ws.resume();
      });
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
    await dispatch(this.ctx, session, parsed.frame);
  }

  private onClose(session: Session, code: number, reason: string): void {
    const { hub, backend, metrics, log } = this.deps;
    const why = closeReason(code, this.draining);
    metrics.connectionsClosed.inc({ reason: why });
    log.info({ conn: session.id, channel: session.channel, nick: session.nick ?? undefined, durationMs: Date.now() - session.openedAt, code, reason: reason || why, client: this.logged(session.ip) }, 'connection closed');
    session.closed = true;
    session.pending = [];
    hub.detach(session);
    metrics.connections.dec({ channel: session.channel });
    metrics.closes.inc({ code: String(code) });
    const left = (this.perIp.get(session.ip) ?? 1) - 1;
    if (left <= 0) this.perIp.delete(session.ip);
    else this.perIp.set(session.ip, left);
    if (this.draining) return;
    session.chain = session.chain
      .then(() => backend.leave(session.channel, session.id))
      .then(() => undefined, (err: unknown) => log[isOutage(err) ? 'debug' : 'warn']({ err, conn: session.id }, 'presence leave failed; the next heartbeat corrects it'));
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
      if (session.closed) continue;
      if (session.awaitingPongSince > 0) {
        if (now - session.awaitingPongSince > timeout) {
          session.closed = true;
          session.ws.close(CLOSE.internal, 'keepalive ping timeout');
          setTimeout(() => session.ws.terminate(), 1000).unref();
        }
      } else if (now - session.lastPingAt >= interval) {
        session.lastPingAt = now;
        session.awaitingPongSince = now;
        session.ws.ping();
      }
    }
  }
}
