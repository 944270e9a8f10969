import type { ConnState } from '@qchat/protocol';
import type { Keys } from '../keys';
import type { LeaveResult, Member, PresenceStore, Reclaimed, RegisterResult, ReleaseResult } from '../presence';
import type { MemoryBroker } from './broker';

interface ChannelState {
  /** conn -> edge */
  conns: Map<string, string>;
  /** nick -> conn */
  nicks: Map<string, string>;
  /** conn -> nick */
  connNick: Map<string, string>;
}

/** Member of an edge's set: "channel\tconn". Conn ids never hold a tab, so the last tab splits. */
const member = (channel: string, conn: string) => `${channel}\t${conn}`;
function split(m: string): { channel: string; conn: string } {
  const i = m.lastIndexOf('\t');
  return { channel: m.slice(0, i), conn: m.slice(i + 1) };
}

/**
 * In-process presence store with the same semantics as the Redis one (same data layout, same steps in the same
 * order). Every method runs synchronously before its promise resolves, which makes each one atomic.
 */
export class MemoryPresenceStore implements PresenceStore {
  private readonly channels = new Map<string, ChannelState>();
  private readonly edgeConns = new Map<string, Set<string>>();
  /** edge -> time (ms) until which it is alive */
  private readonly aliveUntil = new Map<string, number>();
  private readonly edges = new Set<string>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly broker: MemoryBroker, private readonly k: Keys, opts: { edgeTtlMs: number; now?: () => number }) {
    this.ttlMs = opts.edgeTtlMs;
    this.now = opts.now ?? Date.now;
  }

  async join(channel: string, conn: string, edge: string): Promise<number> {
    this.touch(edge);
    this.attach(channel, conn, edge);
    return this.count(channel);
  }

  async register(channel: string, conn: string, edge: string, nick: string): Promise<RegisterResult> {
    this.touch(edge);
    const holder = this.channels.get(channel)?.nicks.get(nick);
    if (holder === conn) return { status: 'same', replaced: null };
    if (holder !== undefined) return { status: 'taken', replaced: null };
    this.attach(channel, conn, edge);
    const replaced = this.unregister(channel, conn);
    this.claim(channel, conn, nick);
    return { status: 'ok', replaced };
  }

  async leave(channel: string, conn: string): Promise<LeaveResult> {
    const st = this.channels.get(channel);
    const edge = st?.conns.get(conn);
    if (st && edge !== undefined) {
      st.conns.delete(conn);
      this.dropFromEdge(edge, member(channel, conn));
    }
    const nick = this.unregister(channel, conn);
    this.prune(channel);
    return { existed: edge !== undefined, nick, count: await this.count(channel) };
  }

  async release(channel: string, conn: string): Promise<ReleaseResult> {
    const nick = this.unregister(channel, conn);
    const joined = this.channels.get(channel)?.conns.has(conn) ?? false;
    this.prune(channel);
    return { joined, nick, count: this.channels.get(channel)?.conns.size ?? 0 };
  }

  async publishCount(channel: string, head: Buffer, tail: string): Promise<number> {
    const n = this.channels.get(channel)?.conns.size ?? 0;
    this.broker.publishNow(this.k.topic(channel), Buffer.concat([head, Buffer.from(`${n}${tail}`, 'utf8')]));
    return n;
  }

  async count(channel: string): Promise<number> {
    return this.channels.get(channel)?.conns.size ?? 0;
  }

  async counts(channels: string[]): Promise<number[]> {
    return channels.map((c) => this.channels.get(c)?.conns.size ?? 0);
  }

  async users(channel: string): Promise<string[]> {
    return [...(this.channels.get(channel)?.nicks.keys() ?? [])];
  }

  async holder(channel: string, nick: string): Promise<string | null> {
    return this.channels.get(channel)?.nicks.get(nick) ?? null;
  }

  async members(channel: string): Promise<Member[]> {
    const st = this.channels.get(channel);
    if (!st) return [];
    return [...st.conns].map(([conn, edge]) => ({ conn, edge, nick: st.connNick.get(conn) ?? null }));
  }

  async heartbeat(edge: string): Promise<number> {
    this.touch(edge);
    return this.edgeConns.get(edge)?.size ?? 0;
  }

  async deadEdges(): Promise<string[]> {
    const now = this.now();
    // Lapsed edges that hold nothing need no reclaim: drop their timestamps, like expired Redis keys.
    for (const [e, until] of this.aliveUntil) if (until <= now && !this.edges.has(e)) this.aliveUntil.delete(e);
    return [...this.edges].filter((e) => (this.aliveUntil.get(e) ?? -Infinity) <= now);
  }

  async reclaim(edge: string): Promise<Reclaimed[]> {
    const out: Reclaimed[] = [];
    for (const m of this.edgeConns.get(edge) ?? []) {
      const { channel, conn } = split(m);
      const st = this.channels.get(channel);
      if (st?.conns.get(conn) !== edge) continue;
      st.conns.delete(conn);
      out.push({ channel, conn, nick: this.unregister(channel, conn) });
      this.prune(channel);
    }
    this.forget(edge);
    this.aliveUntil.delete(edge);
    return out;
  }

  async sync(edge: string, conns: ConnState[]): Promise<{ lostNicks: string[]; channels: string[] }> {
    const wanted = new Set(conns.map((c) => member(c.channel, c.conn)));
    const changed = new Set<string>();
    const held = this.edgeConns.get(edge);
    for (const m of [...(held ?? [])]) {
      if (wanted.has(m)) continue;
      held?.delete(m);
      const { channel, conn } = split(m);
      const st = this.channels.get(channel);
      if (st?.conns.get(conn) !== edge) continue;
      st.conns.delete(conn);
      this.unregister(channel, conn);
      this.prune(channel);
      changed.add(channel);
    }
    const lostNicks: string[] = [];
    for (const { channel, conn, nick } of conns) {
      if (this.attach(channel, conn, edge)) changed.add(channel);
      if (!this.restoreNick(channel, conn, nick)) lostNicks.push(conn);
    }
    this.touch(edge);
    if (!this.edgeConns.get(edge)?.size) this.forget(edge);
    return { lostNicks, channels: [...changed] };
  }

  /** Gives conn the nickname the edge reports; false when another conn holds it (conn is left unregistered). */
  private restoreNick(channel: string, conn: string, nick: string | null): boolean {
    const st = this.state(channel);
    if (nick === null) {
      this.unregister(channel, conn);
      return true;
    }
    const holder = st.nicks.get(nick);
    if (holder === conn && st.connNick.get(conn) === nick) return true;
    this.unregister(channel, conn);
    if (holder !== undefined && holder !== conn) return false;
    this.claim(channel, conn, nick);
    return true;
  }

  /** Puts conn in channel under edge; returns true when conn was not in the channel before. */
  private attach(channel: string, conn: string, edge: string): boolean {
    const st = this.state(channel);
    const prev = st.conns.get(conn);
    if (prev !== edge) {
      if (prev !== undefined) this.dropFromEdge(prev, member(channel, conn));
      st.conns.set(conn, edge);
    }
    let set = this.edgeConns.get(edge);
    if (!set) this.edgeConns.set(edge, (set = new Set()));
    set.add(member(channel, conn));
    this.edges.add(edge);
    return prev === undefined;
  }

  /** Takes m off edge's set; an edge that holds nothing more is forgotten. */
  private dropFromEdge(edge: string, m: string): void {
    const set = this.edgeConns.get(edge);
    set?.delete(m);
    if (!set?.size) this.forget(edge);
  }

  private forget(edge: string): void {
    this.edgeConns.delete(edge);
    this.edges.delete(edge);
  }

  private claim(channel: string, conn: string, nick: string): void {
    const st = this.state(channel);
    st.nicks.set(nick, conn);
    st.connNick.set(conn, nick);
  }

  /** Releases conn's nickname (only if conn still holds it); returns it. */
  private unregister(channel: string, conn: string): string | null {
    const st = this.channels.get(channel);
    const nick = st?.connNick.get(conn);
    if (!st || nick === undefined) return null;
    st.connNick.delete(conn);
    if (st.nicks.get(nick) === conn) st.nicks.delete(nick);
    return nick;
  }

  private touch(edge: string): void {
    this.aliveUntil.set(edge, this.now() + this.ttlMs);
  }

  private state(channel: string): ChannelState {
    let st = this.channels.get(channel);
    if (!st) this.channels.set(channel, (st = { conns: new Map(), nicks: new Map(), connNick: new Map() }));
    return st;
  }

  /** Forgets an empty channel, as Redis drops empty hashes. */
  private prune(channel: string): void {
    const st = this.channels.get(channel);
    if (st && !st.conns.size && !st.nicks.size && !st.connNick.size) this.channels.delete(channel);
  }
}
