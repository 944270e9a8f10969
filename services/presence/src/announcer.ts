import { encodeEnvelope, frames, type Keys } from '@qchat/protocol';
import type { Broker } from '@qchat/bus';
import type { PresenceMetrics } from './metrics';

/** Publishes the presence frames of a channel: nb_users, newcomer, exiter, serialised once here. */
export class Announcer {
  constructor(private readonly broker: Broker, private readonly keys: Keys, private readonly metrics: PresenceMetrics) {}

  /** Returns the nb_users frame JSON and id, so a joiner can be sent the same frame first. */
  async count(channel: string, n: number): Promise<{ json: string; id: string }> {
    const frame = frames.nbUsers(Math.max(0, n));
    const json = JSON.stringify(frame);
    await this.publish(channel, frame.id, json, 'nb_users');
    return { json, id: frame.id };
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
