/** Request and reply bodies of the internal NATS API. Replies travel as {ok:true,data}|{ok:false,error}. */
import type { ChatBody } from './frames';

export interface RelayPublishRequest {
  channel: string;
  /** Message id chosen by the edge; a retried request carries the same id and is published once. */
  id: string;
  body: ChatBody;
  /** 'ws' for a socket frame, 'http' for PUT /channel/{channel}/text, 'matrix' for the Matrix bridge. */
  source: 'ws' | 'http' | 'matrix';
}
/**
 * The stamped frame for 'http' (PUT answers with it); null for 'ws', whose sender sees the broadcast echo: a big
 * image or layer is not carried back for nothing.
 */
export interface RelayPublishReply { frame: string | null }

export interface RelayHistoryRequest { channel: string }
export interface RelayHistoryReply { frames: string[] }

export interface PresenceJoinRequest {
  channel: string;
  conn: string;
  edge: string;
  /** Client address and connect time (ms), kept for moderators' listing. */
  addr?: string;
  since?: number;
}
/** `frame` is the nb_users frame (JSON) also broadcast to the channel, so the joiner can get it first. */
export interface PresenceJoinReply { count: number; frame: string; frameId: string }

export interface PresenceRegisterRequest { channel: string; conn: string; edge: string; nick: string }
export interface PresenceRegisterReply { registered: true }

export interface PresenceLeaveRequest {
  channel: string;
  conn: string;
  edge: string;
  /** Only release the nickname; the connection stays (an inbound `exiter` naming the socket's own nickname). */
  keepConnection?: boolean;
}
export interface PresenceLeaveReply { nick: string | null; count: number }

export interface PresenceUsersRequest { channel: string }
export interface PresenceUsersReply { users: string[] }

export interface PresenceCountsRequest { channels: string[] }
export interface PresenceCountsReply { counts: number[] }

export interface PresenceHeartbeatRequest { edge: string; conns: number }
export interface PresenceHeartbeatReply { resync: boolean }

export interface ConnState { channel: string; conn: string; nick: string | null }
export interface PresenceSyncRequest { edge: string; conns: ConnState[] }
/** Connections whose nickname could not be restored (taken by another connection meanwhile). */
export interface PresenceSyncReply { lostNicks: string[] }

export interface PresenceEdgeDownRequest { edge: string }
export interface PresenceEdgeDownReply { reclaimed: number }
