/**
 * Channel → Matrix: frames seen on the channel topics (live, and from history after a hand-over) become Matrix
 * sends: gischat's ping for texts starting with MATRIX_PING_MESSAGE_PREFIX, and the bridge's copy of texts and
 * images in bridged channels. Frames the bridge itself brought from Matrix (author with the bridge suffix) go
 * nowhere. Each send has a transaction id derived from the message id and is marked done in the state once
 * sent, so a restart neither loses nor repeats one.
 */
import type { MatrixClient } from '@qchat/matrix';
import type { Logger } from 'pino';
import type { BridgeConfig } from './config';
import { imageContent, pingContent, textContent, type Origin } from './content';
import type { Outbox } from './outbox';
import type { BridgeState } from '@qchat/engine';

/** How long a sent mark is kept: longer than any history frame is worth carrying. */
export const DONE_TTL_MS = 30 * 24 * 3600_000;

export interface Destination { client: MatrixClient; outbox: Outbox; roomId?: string }

export interface ToMatrixDeps {
  config: Pick<BridgeConfig, 'INSTANCE_ID' | 'limits' | 'MATRIX_PING_MESSAGE_PREFIX' | 'MATRIX_PING_ROOMID' | 'MATRIX_BRIDGE' | 'MATRIX_BRIDGE_AUTHOR_SUFFIX'>;
  state: BridgeState;
  ping: Destination | undefined;
  bridge: Destination | undefined;
  log: Logger;
}

interface ChatFrame { type?: unknown; id?: unknown; timestamp?: unknown; author?: unknown; text?: unknown; image_data?: unknown }

export function doneKey(txnId: string): string {
  return `done:${txnId}`;
}

export class ToMatrix {
  constructor(private readonly deps: ToMatrixDeps) {}

  /** `frameJson` as it travels on the topic or sits in history; anything malformed is ignored. */
  async handle(channel: string, frameJson: string, notBefore = 0): Promise<void> {
    let f: ChatFrame;
    try {
      f = JSON.parse(frameJson) as ChatFrame;
    } catch {
      return;
    }
    if (typeof f !== 'object' || f === null || typeof f.id !== 'string' || typeof f.author !== 'string') return;
    // Broker data is untrusted: sizes are bounded by the limits relay itself applies before publishing.
    const { limits } = this.deps.config;
    if (f.id.length > 64 || f.author.length > limits.maxAuthorLength + this.deps.config.MATRIX_BRIDGE_AUTHOR_SUFFIX.length) return;
    if (typeof f.text === 'string' && f.text.length > limits.maxMessageLength) return;
    if (typeof f.image_data === 'string' && f.image_data.length > limits.maxImageRawLength) return;
    if (typeof f.timestamp === 'number' && f.timestamp < notBefore) return;
    if (f.author.endsWith(this.deps.config.MATRIX_BRIDGE_AUTHOR_SUFFIX)) return;
    const origin: Origin = { instance: this.deps.config.INSTANCE_ID, channel, id: f.id };
    const { ping, bridge, config } = this.deps;
    if (ping && f.type === 'text' && typeof f.text === 'string' && config.MATRIX_PING_MESSAGE_PREFIX !== '' && f.text.startsWith(config.MATRIX_PING_MESSAGE_PREFIX)) {
      const content = pingContent(channel, f.author, f.text, origin);
      await this.enqueue(ping, 'ping', `qchat-ping-${f.id}`, (txn) => ping.client.send(config.MATRIX_PING_ROOMID!, txn, content));
    }
    const roomId = config.MATRIX_BRIDGE.get(channel);
    if (!bridge || !roomId) return;
    if (f.type === 'text' && typeof f.text === 'string') {
      const content = textContent(f.author, f.text, origin);
      await this.enqueue(bridge, 'text', `qchat-${f.id}`, (txn) => bridge.client.send(roomId, txn, content));
    } else if (f.type === 'image' && typeof f.image_data === 'string') {
      const author = f.author;
      const data = Buffer.from(f.image_data, 'base64');
      await this.enqueue(bridge, 'image', `qchat-${f.id}`, async (txn) => {
        const url = await bridge.client.upload(data, 'image/png', `${author}.png`);
        await bridge.client.send(roomId, txn, imageContent(author, url, data.length, origin));
      });
    }
  }

  private async enqueue(dest: Destination, kind: string, txnId: string, send: (txnId: string) => Promise<unknown>): Promise<void> {
    if ((await this.deps.state.get(doneKey(txnId))) !== null) return;
    dest.outbox.push({ kind, txnId, send: async (t) => { await send(t); } });
  }
}
