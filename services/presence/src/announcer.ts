import { encodeEnvelope, frames } from '@qchat/protocol';
import type { Engine } from '@qchat/engine';
import type { PresenceMetrics } from './metrics';

const COUNT_FIELD = '"nb_users":';

/** Publishes the presence frames of a channel: nb_users, newcomer, exiter, serialised once here. */
export class Announcer {
  /** Channels whose count is published again once the edges have resubscribed after a reconnect of the engine. */
  private readonly recounts = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly engine: Pick<Engine, 'topics' | 'presence' | 'settlesAt'>,
    private readonly metrics: PresenceMetrics,
  ) {}

  /**
   * Publishes the channel's nb_users; returns the frame JSON, id and count, so a joiner can be sent the same frame
   * first. The count is read by the engine in the step that publishes it, not passed in: two replicas that changed
   * a channel at once could otherwise publish their counts in the opposite order, leaving every client on a stale
   * figure. Read at publish time, the channel's last nb_users always carries its latest count.
   */
  async count(channel: string): Promise<{ json: string; id: string; count: number }> {
    const frame = frames.nbUsers(0);
    const template = JSON.stringify(frame);
    const cut = template.lastIndexOf(`${COUNT_FIELD}0`) + COUNT_FIELD.length;
    const [head, tail] = [template.slice(0, cut), template.slice(cut + 1)];
    const count = await this.engine.presence.publishCount(channel, encodeEnvelope({ id: frame.id, kind: 'nb_users' }, head), tail);
    this.metrics.framesPublished.inc({ type: 'nb_users' });
    this.recountWhenSettled(channel);
    return { json: `${head}${count}${tail}`, id: frame.id, count };
  }

  /**
   * Right after a reconnect of the engine (the edges' resyncs come then) some edges may still be resubscribing and
   * miss this nb_users; the channel's count is published once more, read afresh, when they all are back.
   */
  private recountWhenSettled(channel: string): void {
    const wait = this.engine.settlesAt() - Date.now();
    if (wait <= 0 || this.recounts.has(channel)) return;
    const timer = setTimeout(() => {
      this.recounts.delete(channel);
      this.count(channel).catch(() => { /* the channel's next change publishes its count again */ });
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

  private async publish(channel: string, id: string, json: string, type: 'newcomer' | 'exiter', conn?: string): Promise<void> {
    await this.engine.topics.publish(channel, encodeEnvelope(conn ? { id, conn } : { id }, json));
    this.metrics.framesPublished.inc({ type });
  }
}
