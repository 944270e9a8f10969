import type { Broker, Unsubscribe } from '../broker';

/**
 * In-process broker: a real implementation for the all-in-one mode and unit tests. Delivery is asynchronous, as over
 * a network (never inside the publisher's synchronous code), in a microtask: in the same event-loop iteration, so the
 * hub's flush at the end of it carries the message (a `setImmediate` here cost every message one iteration).
 */
export class MemoryBroker implements Broker {
  private readonly topics = new Map<string, Set<(payload: Buffer) => void>>();
  private closed = false;

  async publish(topic: string, payload: Buffer): Promise<void> {
    this.publishNow(topic, payload);
  }

  /** Publishes synchronously (delivery stays asynchronous): what a memory engine part does in one step with its own change. */
  publishNow(topic: string, payload: Buffer): void {
    if (this.closed) throw new Error('broker closed');
    const subs = this.topics.get(topic);
    if (!subs || subs.size === 0) return;
    const targets = [...subs];
    queueMicrotask(() => {
      // Skip subscriptions ended (or a broker closed) since publish: nothing is delivered once unsubscribe resolved.
      for (const fn of targets) if (subs.has(fn)) fn(payload);
    });
  }

  async subscribe(topic: string, onMessage: (payload: Buffer) => void): Promise<Unsubscribe> {
    if (this.closed) throw new Error('broker closed');
    let subs = this.topics.get(topic);
    if (!subs) this.topics.set(topic, (subs = new Set()));
    // Wrap so the same function can subscribe twice and unsubscribe each independently.
    const handler = (payload: Buffer) => onMessage(payload);
    subs.add(handler);
    return async () => {
      subs.delete(handler);
      if (subs.size === 0 && this.topics.get(topic) === subs) this.topics.delete(topic);
    };
  }

  ready(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const subs of this.topics.values()) subs.clear();
    this.topics.clear();
  }
}
