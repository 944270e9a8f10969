import type { Redis } from 'ioredis';
import { QChatError, type ConnState } from '@qchat/protocol';
import type { Keys } from '../keys';
import type { LeaveResult, Member, PresenceStore, Reclaimed, RegisterResult, ReleaseResult } from '../presence';
import type { ConnectionWatch } from './connection';

type Template = readonly [prefix: string, suffix: string];

const MARK = '\u0000';
/** Splits a key builder into the text before and after its argument, so Lua can build the same key names. */
function template(build: (id: string) => string): Template {
  const parts = build(MARK).split(MARK);
  const [prefix, suffix] = parts;
  if (parts.length !== 2 || prefix === undefined || suffix === undefined) throw new Error('unusable key template');
  return [prefix, suffix];
}

/**
 * Presence in Redis (layout in keys.ts). Each multi-key mutation is one Lua script (redis/lua.ts), so it is atomic
 * across presence replicas. Scripts that touch channels known only from stored data (reclaim, sync, deadEdges)
 * build key names inside Lua from the key templates passed in ARGV; that suits a single Redis, not a Redis Cluster
 * (which would need hash tags: a cluster engine is one more file beside this one).
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly ttlMs: number;
  /** ARGV[1..10] of every script: the conns, nicks, connNick, edgeConns and edgeAlive key templates. */
  private readonly templates: string[];

  constructor(private readonly redis: Redis, private readonly k: Keys, private readonly connection: ConnectionWatch, opts: { edgeTtlMs: number }) {
    this.ttlMs = Math.max(1, Math.ceil(opts.edgeTtlMs));
    this.templates = [k.conns, k.nicks, k.connNick, k.edgeConns, k.edgeAlive].flatMap(template);
  }

  async join(channel: string, conn: string, edge: string): Promise<number> {
    const k = this.k;
    this.up();
    return this.redis.qchatPresenceJoin(k.conns(channel), k.edgeConns(edge), k.edges, k.edgeAlive(edge), ...this.templates, channel, conn, edge, this.ttlMs);
  }

  async register(channel: string, conn: string, edge: string, nick: string): Promise<RegisterResult> {
    const k = this.k;
    this.up();
    const [status, replaced] = await this.redis.qchatPresenceRegister(
      k.conns(channel), k.nicks(channel), k.connNick(channel), k.edgeConns(edge), k.edges, k.edgeAlive(edge),
      ...this.templates, channel, conn, edge, this.ttlMs, nick,
    );
    return { status, replaced: replaced ?? null };
  }

  async leave(channel: string, conn: string): Promise<LeaveResult> {
    const k = this.k;
    this.up();
    const [existed, count, nick] = await this.redis.qchatPresenceLeave(k.conns(channel), k.nicks(channel), k.connNick(channel), k.edges, ...this.templates, channel, conn);
    return { existed: existed === 1, nick: nick ?? null, count };
  }

  async release(channel: string, conn: string): Promise<ReleaseResult> {
    const k = this.k;
    this.up();
    const [joined, count, nick] = await this.redis.qchatPresenceRelease(k.conns(channel), k.nicks(channel), k.connNick(channel), ...this.templates, conn);
    return { joined: joined === 1, nick: nick ?? null, count };
  }

  async publishCount(channel: string, head: Buffer, tail: string): Promise<number> {
    return this.redis.qchatPresencePublishCount(this.k.conns(channel), this.k.topic(channel), head, tail);
  }

  async count(channel: string): Promise<number> {
    return this.redis.hlen(this.k.conns(channel));
  }

  async counts(channels: string[]): Promise<number[]> {
    if (!channels.length) return [];
    const replies = await this.redis.pipeline(channels.map((c) => ['hlen', this.k.conns(c)])).exec();
    return (replies ?? []).map(([err, n]) => {
      if (err) throw err;
      return Number(n);
    });
  }

  async users(channel: string): Promise<string[]> {
    return this.redis.hkeys(this.k.nicks(channel));
  }

  async holder(channel: string, nick: string): Promise<string | null> {
    return this.redis.hget(this.k.nicks(channel), nick);
  }

  async members(channel: string): Promise<Member[]> {
    const [conns, nicks] = await Promise.all([this.redis.hgetall(this.k.conns(channel)), this.redis.hgetall(this.k.connNick(channel))]);
    return Object.entries(conns).map(([conn, edge]) => ({ conn, edge, nick: nicks[conn] ?? null }));
  }

  async heartbeat(edge: string): Promise<number> {
    const [, n] = await Promise.all([
      this.redis.set(this.k.edgeAlive(edge), '1', 'PX', this.ttlMs),
      this.redis.scard(this.k.edgeConns(edge)),
    ]);
    return n;
  }

  async deadEdges(): Promise<string[]> {
    this.up();
    return this.redis.qchatPresenceDeadEdges(this.k.edges, ...this.templates);
  }

  async reclaim(edge: string): Promise<Reclaimed[]> {
    const k = this.k;
    this.up();
    const flat = await this.redis.qchatPresenceReclaim(k.edgeConns(edge), k.edges, k.edgeAlive(edge), ...this.templates, edge);
    const out: Reclaimed[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      out.push({ channel: flat[i] ?? '', conn: flat[i + 1] ?? '', nick: flat[i + 2] ?? null });
    }
    return out;
  }

  async sync(edge: string, conns: ConnState[]): Promise<{ lostNicks: string[]; channels: string[] }> {
    const k = this.k;
    this.up();
    // A nickname travels as '=' + nick, no nickname as '' (so an empty nickname stays distinguishable).
    const triples = conns.flatMap((c) => [c.channel, c.conn, c.nick === null ? '' : `=${c.nick}`]);
    const [lostNicks, channels] = await this.redis.qchatPresenceSync(k.edgeConns(edge), k.edges, k.edgeAlive(edge), ...this.templates, edge, this.ttlMs, ...triples);
    return { lostNicks, channels };
  }

  /**
   * Fails at once while the connection is down: a change queued until Redis is back would land after the edge gave
   * up and told its client (a registration refused, then announced anyway).
   */
  private up(): void {
    if (this.connection.down()) throw new QChatError('unavailable', 'redis unavailable');
  }
}
