/**
 * The part both baseline servers share: just enough of protocol.md §3 for the bench scenarios, with no
 * broker, no history and no persistence. Path /channel/<c>/ws (any channel), nb_users to all on connect and
 * disconnect, newcomer registration (unique per channel) broadcast, text and image (relayed as received, no
 * re-encode) broadcast with a fresh id and timestamp. GET /rss answers process.memoryUsage().rss so `hold` can read it over HTTP too.
 * The two baselines differ only in `Deliver`: how a frame reaches the sockets of a channel.
 */
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Peer {
  ws: WebSocket;
  socket: Duplex;
  channel: string;
  nick: string | null;
  /** Used by the tuned writer: frames queued for this turn, and whether the peer is in the dirty list. */
  pending: Buffer[];
  dirty: boolean;
}

export interface Deliver {
  /** Sends one server frame (already built) to every peer of the list. */
  broadcast(peers: Iterable<Peer>, frame: object): void;
  /** Sends one frame to a single peer. */
  unicast(peer: Peer, frame: object): void;
}

const NICK = /^[A-Za-z0-9_-]{3,32}$/;
const now = () => Math.floor(Date.now() / 1000);

export function startBaseline(name: string, deliver: Deliver): void {
  const port = Number(process.env.PORT ?? 0);
  const host = process.env.HOST ?? '127.0.0.1';
  const channels = new Map<string, Set<Peer>>();
  const nicks = new Map<string, Map<string, Peer>>();

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 16 * 1024 * 1024 });
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/rss') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ rss: process.memoryUsage().rss, pid: process.pid, baseline: name }));
      return;
    }
    res.writeHead(404).end();
  });

  const nbUsers = (channel: string) => {
    const peers = channels.get(channel);
    if (peers) deliver.broadcast(peers, { type: 'nb_users', id: randomUUID(), timestamp: now(), nb_users: peers.size });
  };
  const uncompliant = (peer: Peer, reason: string) =>
    deliver.unicast(peer, { type: 'uncompliant', id: randomUUID(), timestamp: now(), reason });

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const m = /^\/channel\/([^/?]+)\/ws(?:\?.*)?$/.exec(req.url ?? '');
    if (!m) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const channel = decodeURIComponent(m[1]!);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const peer: Peer = { ws, socket, channel, nick: null, pending: [], dirty: false };
      let peers = channels.get(channel);
      if (!peers) channels.set(channel, (peers = new Set()));
      peers.add(peer);
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(data.toString()) as Record<string, unknown>;
        } catch {
          return uncompliant(peer, 'invalid JSON');
        }
        if (msg.type === 'newcomer') {
          const nick = msg.newcomer;
          if (typeof nick !== 'string' || !NICK.test(nick)) return uncompliant(peer, 'invalid newcomer');
          let names = nicks.get(channel);
          if (!names) nicks.set(channel, (names = new Map()));
          if (names.has(nick)) return uncompliant(peer, `User '${nick}' already registered in channel ${channel}`);
          if (peer.nick !== null) names.delete(peer.nick);
          names.set(nick, peer);
          peer.nick = nick;
          deliver.broadcast(channels.get(channel) ?? [], { type: 'newcomer', id: randomUUID(), timestamp: now(), newcomer: nick });
        } else if (msg.type === 'text') {
          const { author, text } = msg;
          const avatar = typeof msg.avatar === 'string' ? msg.avatar : null;
          if (typeof author !== 'string' || !NICK.test(author) || typeof text !== 'string' || text.length > 255) {
            return uncompliant(peer, 'invalid text');
          }
          deliver.broadcast(channels.get(channel) ?? [], { type: 'text', id: randomUUID(), timestamp: now(), author, avatar, text });
        } else if (msg.type === 'image') {
          // The big-frame scenario: relayed as received (no resize or re-encode), the frame built once for everyone.
          const { author, image_data: imageData } = msg;
          const avatar = typeof msg.avatar === 'string' ? msg.avatar : null;
          if (typeof author !== 'string' || !NICK.test(author) || typeof imageData !== 'string' || imageData.length > 5_000_000) {
            return uncompliant(peer, 'invalid image');
          }
          deliver.broadcast(channels.get(channel) ?? [], { type: 'image', id: randomUUID(), timestamp: now(), author, avatar, image_data: imageData });
        }
      });
      ws.on('error', () => undefined);
      ws.once('close', () => {
        peers!.delete(peer);
        if (peer.nick !== null) nicks.get(channel)?.delete(peer.nick);
        if (peers!.size === 0) channels.delete(channel);
        else nbUsers(channel);
      });
      nbUsers(channel);
    });
  });

  // Keepalive like the real server (a ping every 20 s), so idle sockets cost the same kind of work.
  setInterval(() => {
    for (const peers of channels.values()) for (const p of peers) p.ws.ping();
  }, 20_000).unref();

  server.listen(port, host, () => {
    const addr = server.address();
    process.stdout.write(`${name} baseline listening on ${host}:${typeof addr === 'object' && addr ? addr.port : port}\n`);
  });
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
