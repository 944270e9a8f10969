/**
 * Naive baseline: the textbook ws broadcast. The frame is stringified once per event, then `ws.send(string)`
 * is called for every socket at once: ws turns the string into bytes and writes a frame per socket per
 * message, so a socket receiving k frames in one turn costs k conversions and k writes.
 * Run: PORT=8001 node --import tsx bench/baselines/naive.ts
 */
import { startBaseline, type Peer } from './common';

startBaseline('naive', {
  broadcast(peers: Iterable<Peer>, frame: object) {
    const data = JSON.stringify(frame);
    for (const p of peers) if (p.ws.readyState === p.ws.OPEN) p.ws.send(data);
  },
  unicast(peer: Peer, frame: object) {
    if (peer.ws.readyState === peer.ws.OPEN) peer.ws.send(JSON.stringify(frame));
  },
});
