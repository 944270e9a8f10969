import { QChatError, type RelayHistoryReply, type RelayHistoryRequest } from '@qchat/protocol';
import type { HistoryStore } from '@qchat/engine';

/** relay.history: the stored frames of a channel, oldest first, exactly as they were broadcast. */
export function createHistoryHandler(deps: { channels: readonly string[]; store: HistoryStore }) {
  return async (req: RelayHistoryRequest): Promise<RelayHistoryReply> => {
    if (!deps.channels.includes(req.channel)) throw new QChatError('channel_not_found', `Channel '${req.channel}' not registered`);
    try {
      return { frames: await deps.store.list(req.channel) };
    } catch (err) {
      throw new QChatError('unavailable', 'history unavailable', { cause: err });
    }
  };
}
