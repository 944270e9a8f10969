/**
 * One /matrix/{request_id}/ws socket: logs in with the registration (the password is dropped right after),
 * joins the room, then syncs continuously — the room's recent and live text messages reach the socket as
 * `text` frames — and posts the socket's `text` frames to the room. Every way of failing ends in a close with
 * a reason the user can read; the access token is logged out when the socket goes.
 */
import { randomUUID } from 'node:crypto';
import { MESSAGE_TYPES, frames, nowSeconds } from '@qchat/protocol';
import { MatrixClient, MatrixError, MemberNames, roomFilter, runSync, type SyncResponse } from '@qchat/matrix';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Registration } from './registrations';

/** 4000–4499: the client may try again; 4500–4999: it should not without changing something. */
export const MATRIX_CLOSE = {
  unreachable: 4400,
  notAllowed: 4500,
  loginFailed: 4501,
  room: 4502,
  sessionEnded: 4503,
} as const;

export interface SessionDeps {
  allowed(homeserver: string): string | null;
  maxTextLength: number;
  log: Logger;
  /** Reason label for the metrics, once, when the socket closes. */
  closed(reason: string): void;
}

const TEXT_TYPES = new Set(['m.text', 'm.notice', 'm.emote']);
/** Frames of one socket waiting for their turn; beyond this they are refused (each is a request to the homeserver). */
const MAX_PENDING_FRAMES = 32;
const BACKLOG = 10;

export class MatrixSession {
  private readonly abort = new AbortController();
  private client: MatrixClient | undefined;
  private roomId = '';
  private closeReason = 'client';
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly names = new MemberNames();

  constructor(private readonly ws: WebSocket, private reg: Registration | undefined, private readonly deps: SessionDeps) {}

  /** Runs until the socket closes; never rejects. */
  async run(): Promise<void> {
    const done = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    const connecting = this.connect().catch((err: unknown) => this.fail(err));
    // Frames sent while logging in wait for the room, in order.
    this.chain = connecting;
    this.ws.on('message', (data, isBinary) => {
      if (this.pending >= MAX_PENDING_FRAMES) return this.uncompliant('Too many messages at once, slow down.');
      this.pending++;
      this.chain = this.chain
        .then(() => this.onFrame(isBinary ? null : data.toString()))
        .catch((err: unknown) => this.deps.log.warn({ err }, 'matrix frame failed'))
        .finally(() => { this.pending--; });
    });
    this.ws.on('error', (err) => this.deps.log.debug({ err }, 'matrix socket error'));
    await done;
    this.abort.abort();
    await connecting;
    this.reg = undefined;
    await this.chain;
    await this.client?.logout().catch((err: unknown) => this.deps.log.debug({ err }, 'matrix logout failed'));
    this.deps.closed(this.closeReason);
  }

  /** Closes with 1001 (edge shutting down). */
  shutdown(): void {
    this.close(1001, 'server shutting down', 'shutdown');
  }

  private async connect(): Promise<void> {
    const reg = this.reg!;
    const homeserver = this.deps.allowed(reg.homeserver);
    if (!homeserver) {
      return this.close(MATRIX_CLOSE.notAllowed, `Homeserver '${reg.homeserver}' is not allowed on this server.`, 'not_allowed');
    }
    this.client = new MatrixClient({ homeserver });
    try {
      await this.client.login(reg.user, reg.password, reg.device_id);
    } catch (err) {
      this.reg = undefined;
      if (err instanceof MatrixError && err.kind === 'unreachable') {
        return this.close(MATRIX_CLOSE.unreachable, `Homeserver '${reg.homeserver}' is unreachable.`, 'unreachable');
      }
      return this.close(MATRIX_CLOSE.loginFailed, `Matrix login failed: ${(err as Error).message}`, 'login_failed');
    }
    this.reg = undefined; // the password is not needed any more
    try {
      this.roomId = await this.client.join(reg.room_id);
    } catch (err) {
      return this.close(MATRIX_CLOSE.room, `Cannot use room '${reg.room_id}': ${(err as Error).message}`, 'room');
    }
    if (this.abort.signal.aborted) return;
    this.deps.log.info({ homeserver }, 'matrix session started');
    runSync({
      client: this.client,
      filter: roomFilter([this.roomId]),
      backlog: BACKLOG,
      onBatch: (batch) => this.deliver(batch),
      onError: (err, delayMs) => this.deps.log.warn({ err, retryInMs: delayMs }, 'matrix session sync failed'),
      signal: this.abort.signal,
    }).catch((err: unknown) => {
      this.close(MATRIX_CLOSE.sessionEnded, `Matrix session ended: ${(err as Error).message}`, 'session_ended');
    });
  }

  private async deliver(batch: SyncResponse): Promise<void> {
    const room = batch.rooms?.join?.[this.roomId];
    if (!room) return;
    this.names.learn(this.roomId, room.state?.events);
    for (const e of room.timeline?.events ?? []) {
      this.names.learn(this.roomId, [e]);
      if (e.type !== 'm.room.message' || !TEXT_TYPES.has(String(e.content.msgtype)) || typeof e.content.body !== 'string') continue;
      this.send({ type: 'text', id: randomUUID(), timestamp: nowSeconds(), author: this.names.name(this.roomId, e.sender), text: e.content.body });
    }
  }

  /** gischat's inbound rules: a valid `text` is posted to the room, other valid types are ignored, the rest is uncompliant. */
  private async onFrame(text: string | null): Promise<void> {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text ?? '') as Record<string, unknown>;
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) throw new Error('not an object');
    } catch {
      return this.uncompliant('Invalid frame: expected a JSON object.');
    }
    if (typeof frame.type !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(frame.type)) {
      return this.uncompliant(`Invalid message type: ${JSON.stringify(frame.type ?? null)}.`);
    }
    if (frame.type !== 'text') return;
    if (typeof frame.text !== 'string' || frame.text === '') return this.uncompliant('text: a non-empty string is required.');
    if (frame.author !== undefined && typeof frame.author !== 'string') return this.uncompliant('author: should be a string.');
    if ([...frame.text].length > this.deps.maxTextLength) return this.uncompliant(`text: at most ${this.deps.maxTextLength} characters.`);
    if (!this.client?.accessToken || !this.roomId) return this.uncompliant('Not connected to the Matrix room.');
    try {
      await this.client.send(this.roomId, randomUUID(), { msgtype: 'm.text', body: frame.text });
    } catch (err) {
      this.uncompliant(`Matrix refused the message: ${(err as Error).message}`);
    }
  }

  private uncompliant(reason: string): void {
    this.send(frames.uncompliant(reason));
  }

  private send(frame: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private fail(err: unknown): void {
    this.deps.log.error({ err }, 'matrix session failed');
    this.close(1011, 'Server error', 'error');
  }

  private close(code: number, reason: string, label: string): void {
    if (this.ws.readyState !== this.ws.OPEN && this.ws.readyState !== this.ws.CONNECTING) return;
    this.closeReason = label;
    this.abort.abort();
    // A close reason is at most 123 bytes.
    let r = reason;
    while (Buffer.byteLength(r) > 123) r = [...r].slice(0, -1).join('');
    this.ws.close(code, r);
  }
}
