import type { Redis } from 'ioredis';
import { encodeEnvelope, frames, type Keys } from '@qchat/protocol';
import { REDIS_SETTLE_MS, watchConnection, type Broker, type ConnectionWatch } from '@qchat/bus';
import type { PresenceMetrics } from './metrics';

/** KEYS conns; ARGV topic, envelope up to the count, rest of the frame. Counts and publishes in one step. */
const PUBLISH_COUNT = `
local n = redis.call('HLEN', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. n .. ARGV[3])
return n`;
const COUNT_FIELD = '"nb_users":';

/** Publishes the presence frames of a channel: nb_users, newcomer, exiter, serialised once here. */
export class Announcer {
  private readonly connection: ConnectionWatch | undefined;
  /** Channels whose count is published again once the edges have resubscribed after a Redis reconnect. */
  private readonly recounts = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly broker: Broker,
    private readonly keys: Keys,
    private readonly metrics: PresenceMetrics,
    /** With Redis, nb_users carries the count read as it is published (see count). */
    private readonly redis?: Redis,
  ) {
    redis?.defineCommand('qchatPresencePublishCount', { numberOfKeys: 1, lua: PUBLISH_COUNT });
    this.connection = redis && watchConnection(redis);
  }

  /**
   * Publishes the channel's nb_users; returns the frame JSON, id and count, so a joiner can be sent the same frame
   * first. With Redis the count is read by the script that publishes it, not passed in: two replicas that changed a
   * channel at once could otherwise publish their counts in the opposite order, leaving every client on a stale
   * figure. Read at publish time, the channel's last nb_users always carries its latest count.
   */
  async count(channel: string, n: number): Promise<{ json: string; id: string; count: number }> {
    const frame = frames.nbUsers(Math.max(0, n));
    if (!this.redis) {
      const json = JSON.stringify(frame);
      await this.publish(channel, frame.id, json, 'nb_users');
      return { json, id: frame.id, count: frame.nb_users };
    }
    const template = JSON.stringify({ ...frame, nb_users: 0 });
    const cut = template.lastIndexOf(`${COUNT_FIELD}0`) + COUNT_FIELD.length;
    const [head, tail] = [template.slice(0, cut), template.slice(cut + 1)];
    const envelopeHead = encodeEnvelope({ id: frame.id, kind: 'nb_users' }, head);
    const run = (this.redis as unknown as Record<string, (...args: (string | Buffer)[]) => Promise<number>>).qchatPresencePublishCount!;
    const count = Number(await run.call(this.redis, this.keys.conns(channel), this.keys.topic(channel), envelopeHead, tail));
    this.metrics.framesPublished.inc({ type: 'nb_users' });
    this.recountWhenSettled(channel);
    return { json: `${head}${count}${tail}`, id: frame.id, count };
  }

  /**
   * Right after a Redis reconnect (the edges' resyncs come then) some edges may still be resubscribing and miss this
   * nb_users; the channel's count is published once more, read afresh, when they all are back.
   */
  private recountWhenSettled(channel: string): void {
    const wait = (this.connection?.backAt() ?? 0) + REDIS_SETTLE_MS - Date.now();
    if (wait <= 0 || this.recounts.has(channel)) return;
    const timer = setTimeout(() => {
      this.recounts.delete(channel);
      this.count(channel, 0).catch(() => { /* the channel's next change publishes its count again */ });
    }, wait);
    timer.unref();
    this.recounts.set(channel, timer);
  }

  /** `conn` set: deliver to that connection only (large channels still answer the registering socket). */
  async newcomer(channel: string, nick: string, conn?: string): Promise<void> {
    const frame = frames.newcomer(nick);
    await this.publish(channel, frame.id, JSON.stringify(frame), 'newcomer', conn);
  }

  async exiter(channel: string, nick: string): Promise<void> {
    const frame = frames.exiter(nick);
    await this.publish(channel, frame.id, JSON.stringify(frame), 'exiter');
  }

  private async publish(channel: string, id: string, json: string, type: 'nb_users' | 'newcomer' | 'exiter', conn?: string): Promise<void> {
    const route = type === 'nb_users' ? { id, kind: 'nb_users' as const } : conn ? { id, conn } : { id };
    await this.broker.publish(this.keys.topic(channel), encodeEnvelope(route, json));
    this.metrics.framesPublished.inc({ type });
  }
}
