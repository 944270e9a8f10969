/**
 * Tuned baseline: each frame is serialised once to a Buffer shared by every socket; sockets only queue it,
 * and once per event-loop turn (setImmediate) every socket with pending frames is corked, sent all of them,
 * and uncorked: one write per socket per turn whatever the number of frames.
 * Run: PORT=8002 node --import tsx bench/baselines/tuned.ts
 */
import { startBaseline, type Peer } from './common';

let dirty: Peer[] = [];
let scheduled = false;

function flush(): void {
  const batch = dirty;
  dirty = [];
  scheduled = false;
  for (const p of batch) {
    p.dirty = false;
    const frames = p.pending;
    p.pending = [];
    if (p.ws.readyState !== p.ws.OPEN) continue;
    if (frames.length === 1) {
      p.ws.send(frames[0]!, { binary: false });
      continue;
    }
    p.socket.cork();
    for (const f of frames) p.ws.send(f, { binary: false });
    p.socket.uncork();
  }
}

function queue(p: Peer, frame: Buffer): void {
  p.pending.push(frame);
  if (p.dirty) return;
  p.dirty = true;
  dirty.push(p);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

startBaseline('tuned', {
  broadcast(peers: Iterable<Peer>, frame: object) {
    const buf = Buffer.from(JSON.stringify(frame));
    for (const p of peers) queue(p, buf);
  },
  unicast(peer: Peer, frame: object) {
    queue(peer, Buffer.from(JSON.stringify(frame)));
  },
});
