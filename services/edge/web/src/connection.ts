/**
 * One WebSocket to a channel that comes back by itself: after a drop it reconnects with exponential backoff
 * (1 s, 2 s, 4 s … 30 s, with jitter) and says so in words people understand, never with a close code.
 */
import { parseFrame, type ServerFrame } from './protocol';

export interface ConnectionEvents {
  /** The socket is open (first time or after a reconnect). */
  open(reconnected: boolean): void;
  frame(frame: ServerFrame): void;
  /** The socket is down; `retryAt` is when the next attempt starts (null: no retry, stop() was called). */
  down(why: string, retryAt: number | null): void;
}

const MAX_DELAY_MS = 30_000;

export interface Connection {
  send(frame: object): boolean;
  /** Tries again now instead of waiting for the backoff. */
  retryNow(): void;
  /** Closes for good: no reconnect. */
  stop(): void;
  readonly channel: string;
}

export function channelUrl(channel: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/channel/${encodeURIComponent(channel)}/ws`;
}

/** What a close means for people. */
export function describeClose(code: number, wasOpen: boolean): string {
  if (!wasOpen) return 'Could not reach the server.';
  switch (code) {
    case 1001:
    case 1012:
      return 'The server is restarting.';
    case 1008:
      return 'The server refused the connection.';
    case 1009:
      return 'A message was too big for the server.';
    case 1011:
      return 'The server stopped answering.';
    case 4001:
      return 'The connection was too slow to keep up.';
    default:
      return 'The connection was lost.';
  }
}

export function connect(channel: string, events: ConnectionEvents): Connection {
  let ws: WebSocket | null = null;
  let stopped = false;
  let failures = 0;
  let everOpened = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function open(): void {
    clearTimeout(timer);
    if (stopped) return;
    const socket = new WebSocket(channelUrl(channel));
    ws = socket;
    let wasOpen = false;
    socket.onopen = () => {
      wasOpen = true;
      failures = 0;
      const reconnected = everOpened;
      everOpened = true;
      events.open(reconnected);
    };
    socket.onmessage = (event) => {
      const frame = parseFrame(event.data);
      if (frame) events.frame(frame);
    };
    socket.onclose = (event) => {
      if (ws !== socket) return;
      ws = null;
      if (stopped) return;
      const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** failures) * (0.85 + Math.random() * 0.3);
      failures++;
      const retryAt = Date.now() + delay;
      timer = setTimeout(open, delay);
      events.down(describeClose(event.code, wasOpen), retryAt);
    };
  }

  open();
  return {
    channel,
    send(frame) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
    retryNow() {
      if (!stopped && !ws) open();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      const socket = ws;
      ws = null;
      socket?.close(1000);
    },
  };
}
