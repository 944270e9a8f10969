import type { Redis } from 'ioredis';
import type { Broker, Unsubscribe } from '../broker';

/**
 * Redis pub/sub. Publishes on the shared client; subscribes on a dedicated connection (`duplicate()`), which
 * ioredis re-subscribes after every reconnect, so a Redis restart never leaves a silent subscriber behind.
 */
export class RedisBroker implements Broker {
  private readonly sub: Redis;
  /** Per topic: its handlers, and the SUBSCRIBE every subscriber of the topic waits for (the first one sends it). */
  private readonly topics = new Map<string, { handlers: Set<(payload: Buffer) => void>; inPlace: Promise<unknown> }>();

  constructor(private readonly pub: Redis) {
    // No ready check: ioredis sends SUBSCRIBE as soon as the socket connects (it is allowed while Redis loads), so a
    // subscribe made during the check put the connection in subscriber mode before INFO, failed the check and forced
    // a reconnect that dropped messages published right after subscribe() had resolved.
    this.sub = pub.duplicate({ enableReadyCheck: false });
    this.sub.on('error', () => { /* reported through ready(); reconnects by itself */ });
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const entry = this.topics.get(channel.toString('utf8'));
      if (entry) for (const fn of entry.handlers) fn(message);
    });
  }

  async publish(topic: string, payload: Buffer): Promise<void> {
    await this.pub.publish(topic, payload);
  }

  async subscribe(topic: string, onMessage: (payload: Buffer) => void): Promise<Unsubscribe> {
    let entry = this.topics.get(topic);
    if (!entry) {
      entry = { handlers: new Set(), inPlace: this.sub.subscribe(topic) };
      this.topics.set(topic, entry);
    }
    const { handlers } = entry;
    const handler = (payload: Buffer) => onMessage(payload);
    handlers.add(handler);
    const leave = async () => {
      handlers.delete(handler);
      if (handlers.size === 0 && this.topics.get(topic) === entry) {
        this.topics.delete(topic);
        await this.sub.unsubscribe(topic).catch(() => undefined);
      }
    };
    try {
      // Later subscribers wait for the first one's SUBSCRIBE too: resolving earlier would lose messages.
      await entry.inPlace;
    } catch (err) {
      handlers.delete(handler);
      if (handlers.size === 0 && this.topics.get(topic) === entry) this.topics.delete(topic);
      throw err;
    }
    return leave;
  }

  ready(): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  async close(): Promise<void> {
    this.topics.clear();
    this.sub.disconnect();
  }
}
