import { QChatError, type RelayClearReply, type RelayClearRequest, type RelayDeleteReply, type RelayDeleteRequest } from '@qchat/protocol';
import type { HistoryStore } from '@qchat/engine';

/** relay.delete and relay.clear: moderators remove stored messages; history simply stops replaying them. */
export function createModerationHandlers(deps: { channels: readonly string[]; store: HistoryStore }) {
  const known = (channel: string) => {
    if (!deps.channels.includes(channel)) throw new QChatError('channel_not_found', `Channel '${channel}' not registered`);
  };
  const guarded = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (err) {
      throw new QChatError('unavailable', 'history unavailable', { cause: err });
    }
  };
  return {
    async remove(req: RelayDeleteRequest): Promise<RelayDeleteReply> {
      known(req.channel);
      if (typeof req.id !== 'string' || !/^[0-9a-fA-F-]{1,64}$/.test(req.id)) return { deleted: false };
      return { deleted: await guarded(() => deps.store.remove(req.channel, req.id)) };
    },
    async clear(req: RelayClearRequest): Promise<RelayClearReply> {
      known(req.channel);
      return { cleared: await guarded(() => deps.store.clear(req.channel)) };
    },
  };
}
