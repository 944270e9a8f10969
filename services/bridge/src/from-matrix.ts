/**
 * Matrix → channel: each message of a bridged room, in a sync batch, is published to its channel through relay
 * (stored and broadcast like any chat message) as a `text` or `image` frame whose author is the sender's
 * display name plus the bridge suffix, which no QChat nickname can have. Skipped: the bot's own events and
 * anything QChat posted (marked with org.qchat.source). Message ids derive from the event id and each event is
 * marked carried, so a batch replayed after a restart publishes nothing twice; the sync token is saved after
 * the batch.
 */
import { QChatError, type ChatBody } from '@qchat/protocol';
import type { RpcClient } from '@qchat/bus';
import { MemberNames, MatrixError, type MatrixClient, type MatrixEvent, type SyncResponse } from '@qchat/matrix';
import type { Logger } from 'pino';
import type { BridgeConfig } from './config';
import { SOURCE_KEY, messageIdFor, splitText, stripReplyFallback } from './content';
import type { BridgeMetrics } from './metrics';
import type { BridgeState } from '@qchat/engine';
import { DONE_TTL_MS } from './to-matrix';

export interface FromMatrixDeps {
  config: Pick<BridgeConfig, 'INSTANCE_ID' | 'MATRIX_BRIDGE' | 'MATRIX_BRIDGE_AUTHOR_SUFFIX' | 'limits'>;
  client: MatrixClient;
  botUserId: string;
  rpc: RpcClient;
  state: BridgeState;
  syncKey: string;
  metrics: BridgeMetrics;
  log: Logger;
}

export class FromMatrix {
  private readonly names = new MemberNames();
  private readonly channels: Map<string, string>;

  constructor(private readonly deps: FromMatrixDeps) {
    this.channels = new Map([...deps.config.MATRIX_BRIDGE].map(([channel, room]) => [room, channel]));
  }

  /** Throws on a retryable failure: the sync loop asks for the same batch again. */
  async handleBatch(batch: SyncResponse): Promise<void> {
    for (const [roomId, room] of Object.entries(batch.rooms?.join ?? {})) {
      const channel = this.channels.get(roomId);
      if (!channel) continue;
      this.names.learn(roomId, room.state?.events);
      for (const event of room.timeline?.events ?? []) {
        this.names.learn(roomId, [event]);
        if (event.type === 'm.room.message') await this.carry(channel, roomId, event);
      }
    }
    await this.deps.state.set(this.deps.syncKey, batch.next_batch);
  }

  private async carry(channel: string, roomId: string, event: MatrixEvent): Promise<void> {
    const { metrics, state } = this.deps;
    const msgtype = typeof event.content.msgtype === 'string' ? event.content.msgtype : 'unknown';
    const type = msgtype === 'm.image' ? 'image' : 'text';
    if (event.sender === this.deps.botUserId || event.content[SOURCE_KEY] !== undefined) {
      metrics.toChannel.inc({ type, outcome: 'skipped' });
      return;
    }
    const key = `in:${event.event_id}`;
    if ((await state.get(key)) !== null) return;
    const author = this.author(roomId, event.sender);
    const bodies = await this.bodies(msgtype, event, author);
    try {
      for (const [part, body] of bodies.entries()) {
        await this.deps.rpc.call('relay.publish', { channel, id: messageIdFor(event.event_id, part), body, source: 'matrix' });
      }
      metrics.toChannel.inc({ type, outcome: 'published' });
    } catch (err) {
      if (!(err instanceof QChatError) || err.code !== 'uncompliant') {
        metrics.toChannel.inc({ type, outcome: 'failed' });
        throw err;
      }
      metrics.toChannel.inc({ type, outcome: 'failed' });
      this.deps.log.warn({ err, channel, event: event.event_id }, 'matrix message refused by relay');
    }
    await state.set(key, '1', DONE_TTL_MS);
  }

  private author(roomId: string, userId: string): string {
    const name = [...this.names.name(roomId, userId).replace(/\s+/g, ' ')].slice(0, this.deps.config.limits.maxAuthorLength).join('');
    return `${name}${this.deps.config.MATRIX_BRIDGE_AUTHOR_SUFFIX}`;
  }

  private async bodies(msgtype: string, event: MatrixEvent, author: string): Promise<ChatBody[]> {
    const raw = typeof event.content.body === 'string' ? event.content.body : '';
    if (msgtype === 'm.image' && typeof event.content.url === 'string') {
      try {
        const max = Math.floor((this.deps.config.limits.maxImageRawLength * 3) / 4);
        const { data } = await this.deps.client.download(event.content.url, max);
        return [{ type: 'image', author, avatar: null, image_data: data.toString('base64') }];
      } catch (err) {
        if (err instanceof MatrixError && err.retryable) throw err;
        this.deps.log.warn({ err, event: event.event_id }, 'matrix image not carried');
        return [];
      }
    }
    const relates = event.content['m.relates_to'] as { 'm.in_reply_to'?: unknown } | undefined;
    const text = msgtype === 'm.emote' ? `* ${raw}` : relates?.['m.in_reply_to'] ? stripReplyFallback(raw) : raw;
    if (text.trim() === '') return [];
    return splitText(text, this.deps.config.limits.maxMessageLength).map((t) => ({ type: 'text', author, avatar: null, text: t }));
  }
}
