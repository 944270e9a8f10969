/**
 * What travels on a chat channel's broker topic: a one-line JSON route, a newline, then the client frame bytes
 * exactly as they go on the wire. The frame is serialised once by its producer; an edge reads only the route
 * and sends the frame bytes (a slice, no copy) to the sockets the route selects.
 */
export interface Route {
  /** Frame id, used to de-duplicate replay against live delivery. */
  id: string;
  /** Deliver only to sockets registered with this nickname (private like). */
  to?: string;
  /** Deliver only to this connection. */
  conn?: string;
  /** A per-channel control marker: members frames an edge may coalesce (nb_users). */
  kind?: 'nb_users';
}

const NEWLINE = 0x0a;

export function encodeEnvelope(route: Route, frameJson: string): Buffer {
  return Buffer.from(`${JSON.stringify(route)}\n${frameJson}`, 'utf8');
}

/** A route is a few ids and a nickname: the newline is looked for in this many bytes, never in a whole frame. */
const MAX_ROUTE_BYTES = 1024;

export function decodeEnvelope(payload: Buffer): { route: Route; frame: Buffer } | null {
  const cut = payload.subarray(0, MAX_ROUTE_BYTES).indexOf(NEWLINE);
  if (cut <= 0) return null;
  try {
    const route = JSON.parse(payload.subarray(0, cut).toString('utf8')) as Route;
    if (typeof route !== 'object' || route === null || typeof route.id !== 'string') return null;
    return { route, frame: payload.subarray(cut + 1) };
  } catch {
    return null;
  }
}
