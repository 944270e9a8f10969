import type { Broker, Unsubscribe } from './broker';
import type { Keys } from './keys';

/**
 * Broadcast by chat channel, plus the control topic every edge reads (kicks, ban-list changes). Services name
 * channels; the engine names topics. A payload is a route line and frame bytes (@qchat/protocol envelope).
 */
export interface Topics {
  publish(channel: string, payload: Buffer): Promise<void>;
  /** Resolves once the subscription is in place: what is published after that is delivered, in order. */
  subscribe(channel: string, onMessage: (payload: Buffer) => void): Promise<Unsubscribe>;
  publishControl(payload: Buffer): Promise<void>;
  subscribeControl(onMessage: (payload: Buffer) => void): Promise<Unsubscribe>;
  /** True while publish and delivery work (for readiness). */
  ready(): boolean;
}

export class ChannelTopics implements Topics {
  constructor(private readonly broker: Broker, private readonly k: Keys) {}

  publish(channel: string, payload: Buffer): Promise<void> {
    return this.broker.publish(this.k.topic(channel), payload);
  }

  subscribe(channel: string, onMessage: (payload: Buffer) => void): Promise<Unsubscribe> {
    return this.broker.subscribe(this.k.topic(channel), onMessage);
  }

  publishControl(payload: Buffer): Promise<void> {
    return this.broker.publish(this.k.control, payload);
  }

  subscribeControl(onMessage: (payload: Buffer) => void): Promise<Unsubscribe> {
    return this.broker.subscribe(this.k.control, onMessage);
  }

  ready(): boolean {
    return this.broker.ready();
  }
}
