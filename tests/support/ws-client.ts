/**
 * A WebSocket client for tests: records every frame, hands them out in order to `next`, and fails fast with
 * the frames seen so far when the expected one does not come.
 */
import WebSocket from 'ws';

export type Predicate = (frame: any) => boolean;

export interface TestClient {
  /** Every frame received, in order: parsed JSON, or the raw text when a frame is not JSON. */
  frames: any[];
  ws: WebSocket;
  send(obj: object | string): void;
  /** The first frame not yet taken by `next` that matches (default: any); takes it. Rejects on timeout or close. */
  next(predicate?: Predicate, timeoutMs?: number): Promise<any>;
  /** The first frame received so far or later that matches, whether or not `next` took it; takes nothing. */
  waitFor(predicate: Predicate, timeoutMs?: number): Promise<any>;
  /** Resolves when no matching frame is waiting or arrives within `ms` (negative checks only). */
  expectNone(predicate: Predicate, ms: number): Promise<void>;
  /** Starts the closing handshake and resolves with what the close ended with. */
  close(code?: number, reason?: string): Promise<{ code: number; reason: string }>;
  /** Drops the TCP connection without a closing handshake (a vanished client). */
  terminate(): Promise<{ code: number; reason: string }>;
  closed: Promise<{ code: number; reason: string }>;
}

interface Waiter {
  predicate: Predicate;
  take: boolean;
  resolve(frame: any): void;
  reject(err: Error): void;
}

const DEFAULT_TIMEOUT_MS = 5_000;

export function connectClient(url: string, opts: { headers?: Record<string, string>; perMessageDeflate?: boolean } = {}): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: opts.headers, perMessageDeflate: opts.perMessageDeflate ?? true });
    const frames: any[] = [];
    const taken: boolean[] = [];
    let waiters: Waiter[] = [];
    let closeInfo: { code: number; reason: string } | undefined;
    let opened = false;

    const closed = new Promise<{ code: number; reason: string }>((res) => {
      ws.once('close', (code, reason) => {
        closeInfo = { code, reason: reason.toString('utf8') };
        for (const w of waiters) w.reject(new Error(`socket closed (${closeInfo.code} ${closeInfo.reason}) while waiting for a frame; frames: ${show(frames)}`));
        waiters = [];
        res(closeInfo);
      });
    });

    ws.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8');
      let frame: any = text;
      if (!isBinary) {
        try {
          frame = JSON.parse(text);
        } catch {
          frame = text;
        }
      }
      const index = frames.push(frame) - 1;
      taken[index] = false;
      // Every matching waitFor/expectNone sees the frame; only the oldest matching `next` takes it.
      for (const w of [...waiters]) {
        if (w.take && taken[index]) continue;
        if (!w.predicate(frame)) continue;
        waiters = waiters.filter((x) => x !== w);
        if (w.take) taken[index] = true;
        w.resolve(frame);
      }
    });

    ws.on('error', (err) => {
      if (!opened) reject(err);
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`upgrade to ${url} refused with HTTP ${res.statusCode}`));
      res.resume();
      ws.terminate(); // with this listener ws leaves the socket open; terminate ends it (error + close follow)
    });

    const wait = (predicate: Predicate, take: boolean, timeoutMs: number, what: string) =>
      new Promise<any>((res, rej) => {
        const i = frames.findIndex((f, k) => (!take || !taken[k]) && predicate(f));
        if (i >= 0) {
          if (take) taken[i] = true;
          return res(frames[i]);
        }
        if (closeInfo) return rej(new Error(`socket already closed (${closeInfo.code} ${closeInfo.reason}); frames: ${show(frames)}`));
        const timer = setTimeout(() => {
          waiters = waiters.filter((x) => x !== waiter);
          rej(new Error(`no matching frame within ${timeoutMs} ms (${what}); frames: ${show(frames)}`));
        }, timeoutMs);
        const waiter: Waiter = {
          predicate,
          take,
          resolve: (f) => { clearTimeout(timer); res(f); },
          reject: (e) => { clearTimeout(timer); rej(e); },
        };
        waiters.push(waiter);
      });

    const client: TestClient = {
      frames,
      ws,
      closed,
      send: (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)),
      next: (predicate = () => true, timeoutMs = DEFAULT_TIMEOUT_MS) => wait(predicate, true, timeoutMs, 'next'),
      waitFor: (predicate, timeoutMs = DEFAULT_TIMEOUT_MS) => wait(predicate, false, timeoutMs, 'waitFor'),
      expectNone: (predicate, ms) =>
        new Promise<void>((res, rej) => {
          const fail = (f: any) => rej(new Error(`unexpected frame ${brief(f)}; frames: ${show(frames)}`));
          const early = frames.find((f, k) => !taken[k] && predicate(f));
          if (early !== undefined) return fail(early);
          const timer = setTimeout(() => {
            waiters = waiters.filter((x) => x !== waiter);
            res();
          }, ms);
          const waiter: Waiter = {
            predicate,
            take: false,
            resolve: (f) => { clearTimeout(timer); fail(f); },
            reject: () => { clearTimeout(timer); res(); },
          };
          waiters.push(waiter);
        }),
      close: (code, reason) => {
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
        return closed;
      },
      terminate: () => {
        ws.terminate();
        return closed;
      },
    };

    ws.once('open', () => {
      opened = true;
      resolve(client);
    });
  });
}

/**
 * Attempts an upgrade that the server must refuse, and resolves with the HTTP status it answered.
 * Rejects if the upgrade is accepted or no HTTP answer comes.
 */
export function expectUpgradeRefused(url: string, opts: { headers?: Record<string, string> } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: opts.headers });
    let status: number | undefined;
    ws.once('unexpected-response', (_req, res) => {
      status = res.statusCode ?? 0;
      res.resume();
      ws.terminate(); // with this listener ws leaves the socket open; terminate ends it (error + close follow)
    });
    ws.once('open', () => {
      ws.close();
      reject(new Error(`upgrade to ${url} was accepted; expected it to be refused`));
    });
    ws.on('error', (err) => {
      if (status === undefined) reject(err);
    });
    ws.once('close', () => {
      if (status !== undefined) resolve(status);
    });
  });
}

/** A frame as text, long strings cut (a photo is megabytes of base64). */
function brief(f: any): string {
  const text = typeof f === 'string' ? f : JSON.stringify(f, (_k, v: unknown) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 80)}…(${v.length} chars)` : v));
  return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
}

function show(frames: any[]): string {
  const last = frames.slice(-20).map(brief);
  const text = `[${last.join(', ')}]`;
  const shown = text.length > 2_000 ? `${text.slice(0, 2_000)}…]` : text;
  return frames.length > 20 ? `(last 20 of ${frames.length}) ${shown}` : shown;
}
