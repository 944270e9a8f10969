/**
 * Broker messages are untrusted input (architecture invariant 9): anyone who can publish on Redis can put bytes on a
 * channel topic. A message reaches sockets only when its route is sound and its frame is valid UTF-8 JSON of a
 * server-to-client type that fits the route; anything else is dropped and counted, never forwarded.
 */
import { isUtf8 } from 'node:buffer';
import { MESSAGE_TYPES, decodeEnvelope, type Route } from '@qchat/protocol';

export type Inspected = { ok: true; route: Route; frame: Buffer } | { ok: false; reason: DropReason };
export type DropReason = 'envelope' | 'route' | 'utf8' | 'json' | 'type' | 'mismatch' | 'history';

/** Frames up to this size are parsed in full; bigger ones (images, layers) are checked by their first and last bytes. */
export const PARSE_BROKER_FRAME_BYTES = 1024 * 1024;
const TYPES: ReadonlySet<string> = new Set(MESSAGE_TYPES);
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const HEAD = /^\{"type":"([a-z_]{1,16})","id":"([^"\\]{1,64})"/;

function soundRoute(r: Route): boolean {
  const keys = Object.keys(r);
  if (!keys.every((k) => k === 'id' || k === 'to' || k === 'conn' || k === 'kind')) return false;
  if (!ID.test(r.id)) return false;
  if (r.to !== undefined && (typeof r.to !== 'string' || r.to.length === 0 || r.to.length > 256)) return false;
  if (r.conn !== undefined && (typeof r.conn !== 'string' || !ID.test(r.conn))) return false;
  if (r.kind !== undefined && r.kind !== 'nb_users') return false;
  return [r.to, r.conn, r.kind].filter((x) => x !== undefined).length <= 1;
}

/** Fields of a parsed frame that must agree with its route. */
function fits(route: Route, f: Record<string, unknown>): boolean {
  const type = f['type'];
  if (typeof type !== 'string' || !TYPES.has(type)) return false;
  if (f['id'] !== route.id) return false;
  if (type === 'nb_users') {
    const n = f['nb_users'];
    return route.kind === 'nb_users' && typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  }
  if (route.kind === 'nb_users') return false;
  // A like goes only to the liked author's sockets (protocol.md §6 D2): never broadcast, never to someone else.
  if (type === 'like') return route.to !== undefined && f['liked_author'] === route.to;
  return route.to === undefined;
}

export function inspectBrokerMessage(payload: Buffer): Inspected {
  const decoded = decodeEnvelope(payload);
  if (!decoded) return { ok: false, reason: 'envelope' };
  const { route, frame } = decoded;
  if (!soundRoute(route)) return { ok: false, reason: 'route' };
  if (!isUtf8(frame)) return { ok: false, reason: 'utf8' };
  if (frame.length <= PARSE_BROKER_FRAME_BYTES) {
    let f: unknown;
    try {
      f = JSON.parse(frame.toString('utf8'));
    } catch {
      return { ok: false, reason: 'json' };
    }
    if (typeof f !== 'object' || f === null || Array.isArray(f)) return { ok: false, reason: 'json' };
    if (!fits(route, f as Record<string, unknown>)) return { ok: false, reason: 'mismatch' };
    return { ok: true, route, frame };
  }
  // Big frames: producers write `type` then `id` first; the rest is checked for shape at both ends only.
  const head = HEAD.exec(frame.toString('utf8', 0, 128));
  if (!head || !TYPES.has(head[1]!)) return { ok: false, reason: 'type' };
  if (head[2] !== route.id || route.kind !== undefined || route.to !== undefined || head[1] === 'like' || head[1] === 'nb_users') {
    return { ok: false, reason: 'mismatch' };
  }
  if (frame.toString('latin1', frame.length - 1) !== '}') return { ok: false, reason: 'json' };
  return { ok: true, route, frame };
}

/** Types a history may hold: content messages, never counts, likes or replies. */
const STORED: ReadonlySet<string> = new Set(['text', 'image', 'geojson', 'crs', 'bbox', 'position', 'model', 'script']);

/**
 * A stored frame from relay.history is broker data too (a rogue responder could answer): it is replayed only when it
 * is a JSON object of a content type with an id (frames up to 1 MiB parsed in full, bigger ones by their head and end).
 */
export function soundStoredFrame(frame: string): boolean {
  if (frame.length <= PARSE_BROKER_FRAME_BYTES) {
    try {
      const f = JSON.parse(frame) as Record<string, unknown> | null;
      return typeof f === 'object' && f !== null && !Array.isArray(f) && typeof f['type'] === 'string' && STORED.has(f['type']) && typeof f['id'] === 'string';
    } catch {
      return false;
    }
  }
  const head = HEAD.exec(frame.slice(0, 128));
  return head !== null && STORED.has(head[1]!) && frame.endsWith('}');
}

/** The sound frames of a history; the others are counted (`history`) and left out. */
export function soundHistory(frames: string[], onDrop: () => void): string[] {
  const out = frames.filter(soundStoredFrame);
  for (let i = out.length; i < frames.length; i++) onDrop();
  return out;
}
