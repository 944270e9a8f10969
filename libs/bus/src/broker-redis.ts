import type { Redis } from 'ioredis';
import type { Broker, Unsubscribe } from './broker';

/**
 * Redis pub/sub. Publishes on the shared client; subscribes on a dedicated connection (`duplicate()`), which
 * ioredis re-subscribes after every reconnect, so a Redis restart never leaves a silent subscriber behind.
 */
export class RedisBroker implements Broker {
  private readonly sub: Redis;
  private readonly topics = new Map<string, Set<(payload: Buffer) => void>>();

  constructor(private readonly pub: Redis) {
    // No ready check: ioredis sends SUBSCRIBE as soon as the socket connects (it is allowed while Redis loads), so a
    // subscribe made during the check put the connection in subscriber mode before INFO, failed the check and forced
    // a reconnect that dropped messages published right after subscribe() had resolved.
    this.sub = pub.duplicate({ enableReadyCheck: false });
    this.sub.on('error', () => { /* reported through ready(); reconnects by itself */ });
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const subs = this.topics.get(channel.toString('utf8'));
      if (subs) for (const fn of subs) fn(message);
    });
  }

  async publish(topic: string, payload: Buffer): Promise<void> {
    await this.pub.publish(topic, payload);
  }

  async subscribe(topic: string, onMessage: (payload: Buffer) => void): Promise<Unsubscribe> {
    let subs = this.topics.get(topic);
    if (!subs) {
      subs = new Set();
      this.topics.set(topic, subs);
    }
    const handler = (payload: Buffer) => onMessage(payload);
    subs.add(handler);
    if (subs.size === 1) {
      try {
        await this.sub.subscribe(topic);
      } catch (err) {
        subs.delete(handler);
        if (!subs.size) this.topics.delete(topic);
        throw err;
      }
    }
    return async () => {
      subs.delete(handler);
      if (subs.size === 0 && this.topics.get(topic) === subs) {
        this.topics.delete(topic);
        await this.sub.unsubscribe(topic).catch(() => undefined);
      }
    };
  }

  ready(): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  /** Topics this process listens to, for readiness and tests. */
  subscribedTopics(): string[] {
    return [...this.topics.keys()];
  }

  async close(): Promise<void> {
    this.topics.clear();
    this.sub.disconnect();
  }
}
