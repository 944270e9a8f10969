/**
 * The internal NATS API in one table: each operation's request and reply types, the service (and queue group) that
 * answers it, its call policy (retries, timeout) and the shape guard its server runs before the handler. The caller
 * (RpcClient.call), the servers (serveOperations) and the metrics (label `op`) all read this file.
 *
 *   subject  qchat.<instance>.<op>[.<target>]     queue group  <service>[-<target>]
 *
 * `target` addresses one member (an edge's Matrix registrations): the others are load-balanced in their group.
 */
import { publishBudgetMs } from './budget';
import type { MatrixRegistration, MatrixTakeRequest } from './matrix';
import type {
  PresenceBanReply, PresenceBanRequest, PresenceBansReply, PresenceBansRequest, PresenceConnsReply, PresenceConnsRequest,
  PresenceHolderReply, PresenceHolderRequest, PresenceKickReply, PresenceKickRequest, PresenceUnbanReply, PresenceUnbanRequest,
  RelayClearReply, RelayClearRequest, RelayDeleteReply, RelayDeleteRequest,
} from './moderation';
import type {
  PresenceCountsReply, PresenceCountsRequest, PresenceEdgeDownReply, PresenceEdgeDownRequest, PresenceHeartbeatReply,
  PresenceHeartbeatRequest, PresenceJoinReply, PresenceJoinRequest, PresenceLeaveReply, PresenceLeaveRequest,
  PresenceRegisterReply, PresenceRegisterRequest, PresenceSyncReply, PresenceSyncRequest, PresenceUsersReply,
  PresenceUsersRequest, RelayHistoryReply, RelayHistoryRequest, RelayPublishReply, RelayPublishRequest,
} from './rpc';
import { arrayOf, bool, chatBody, literal, nullable, num, optional, shape, str, type Check } from './shapes';

export interface Operations {
  'relay.publish': { req: RelayPublishRequest; res: RelayPublishReply };
  'relay.history': { req: RelayHistoryRequest; res: RelayHistoryReply };
  'relay.delete': { req: RelayDeleteRequest; res: RelayDeleteReply };
  'relay.clear': { req: RelayClearRequest; res: RelayClearReply };
  'presence.join': { req: PresenceJoinRequest; res: PresenceJoinReply };
  'presence.register': { req: PresenceRegisterRequest; res: PresenceRegisterReply };
  'presence.leave': { req: PresenceLeaveRequest; res: PresenceLeaveReply };
  'presence.users': { req: PresenceUsersRequest; res: PresenceUsersReply };
  'presence.counts': { req: PresenceCountsRequest; res: PresenceCountsReply };
  'presence.heartbeat': { req: PresenceHeartbeatRequest; res: PresenceHeartbeatReply };
  'presence.sync': { req: PresenceSyncRequest; res: PresenceSyncReply };
  'presence.edge_down': { req: PresenceEdgeDownRequest; res: PresenceEdgeDownReply };
  'presence.holder': { req: PresenceHolderRequest; res: PresenceHolderReply };
  'presence.conns': { req: PresenceConnsRequest; res: PresenceConnsReply };
  'presence.ban': { req: PresenceBanRequest; res: PresenceBanReply };
  'presence.unban': { req: PresenceUnbanRequest; res: PresenceUnbanReply };
  'presence.bans': { req: PresenceBansRequest; res: PresenceBansReply };
  'presence.kick': { req: PresenceKickRequest; res: PresenceKickReply };
  'matrix.take': { req: MatrixTakeRequest; res: MatrixRegistration };
}
export type OpName = keyof Operations;
export type Req<K extends OpName> = Operations[K]['req'];
export type Res<K extends OpName> = Operations[K]['res'];
export type ServiceOf<K extends OpName> = K extends `${infer S}.${string}` ? S : never;
export type Service = ServiceOf<OpName>;
export type OpsOf<S extends Service> = Extract<OpName, `${S}.${string}`>;

/** The edge's and relay's common timeouts (REQUEST_TIMEOUT_MS, IMAGE_TIMEOUT_MS). */
export interface Timeouts { requestMs: number; imageMs: number }

export interface Policy<K extends OpName> {
  /** Extra attempts after a retryable failure (no responders, timeout, unavailable). */
  retries: number;
  /** How long one attempt waits; the server of `relay.publish` never commits after it either. */
  timeoutMs(req: Req<K>, t: Timeouts): number;
  /** Run by the server before the handler: a body that fails it is answered `bad_frame`. */
  shape: Check<Req<K>>;
}

const plain = (_req: unknown, t: Timeouts) => t.requestMs;
const channelOnly = shape<{ channel: string }>({ channel: str });
const edgeConn = { channel: str, conn: str, edge: str };
const banKind = literal('nickname', 'address');

export const OPERATIONS: { readonly [K in OpName]: Policy<K> } = {
  // One attempt's budget: relay never commits a message after it, so a retry after it cannot publish twice.
  'relay.publish': {
    retries: 3,
    timeoutMs: (req, t) => publishBudgetMs(req.body, t),
    shape: shape({ channel: str, id: str, body: chatBody, source: literal('ws', 'http', 'matrix') }),
  },
  // A history of big photos or layers is tens of MB: give it time to travel.
  'relay.history': { retries: 2, timeoutMs: (_req, t) => 2 * t.requestMs + 2_000, shape: channelOnly },
  'relay.delete': { retries: 1, timeoutMs: plain, shape: shape({ channel: str, id: str }) },
  'relay.clear': { retries: 1, timeoutMs: plain, shape: channelOnly },
  'presence.join': { retries: 2, timeoutMs: plain, shape: shape({ ...edgeConn, addr: optional(str), since: optional(num) }) },
  'presence.register': { retries: 2, timeoutMs: plain, shape: shape({ ...edgeConn, nick: str }) },
  'presence.leave': { retries: 3, timeoutMs: plain, shape: shape({ ...edgeConn, keepConnection: optional(bool) }) },
  'presence.users': { retries: 1, timeoutMs: plain, shape: channelOnly },
  'presence.counts': { retries: 1, timeoutMs: plain, shape: shape({ channels: arrayOf(str) }) },
  // A missed heartbeat is followed by the next one: no retry.
  'presence.heartbeat': { retries: 0, timeoutMs: plain, shape: shape({ edge: str, conns: num }) },
  // Every socket of an edge at once: presence rebuilds that edge's state in one go.
  'presence.sync': {
    retries: 1,
    timeoutMs: () => 10_000,
    shape: shape({ edge: str, conns: arrayOf(shape({ channel: str, conn: str, nick: nullable(str) })) }),
  },
  'presence.edge_down': { retries: 1, timeoutMs: plain, shape: shape({ edge: str }) },
  'presence.holder': { retries: 2, timeoutMs: plain, shape: shape({ channel: str, nick: str }) },
  'presence.conns': { retries: 1, timeoutMs: plain, shape: channelOnly },
  'presence.ban': { retries: 1, timeoutMs: plain, shape: shape({ kind: banKind, value: str, seconds: num, reason: str }) },
  'presence.unban': { retries: 1, timeoutMs: plain, shape: shape({ kind: banKind, value: str }) },
  'presence.bans': { retries: 1, timeoutMs: plain, shape: shape({}) },
  'presence.kick': { retries: 1, timeoutMs: plain, shape: shape({ channel: nullable(str), nick: str, reason: str }) },
  // Taking a registration removes it: never asked twice.
  'matrix.take': { retries: 0, timeoutMs: plain, shape: shape({ id: str }) },
};

/** Every operation, in the table's order (metrics create their series from it). */
export const OPERATION_NAMES = [
  'relay.publish', 'relay.history', 'relay.delete', 'relay.clear',
  'presence.join', 'presence.register', 'presence.leave', 'presence.users', 'presence.counts', 'presence.heartbeat',
  'presence.sync', 'presence.edge_down', 'presence.holder', 'presence.conns', 'presence.ban', 'presence.unban',
  'presence.bans', 'presence.kick',
  'matrix.take',
] as const satisfies readonly OpName[];
/** Compile-time check that OPERATION_NAMES lists every operation. */
export const OPERATION_NAMES_COMPLETE: [Exclude<OpName, (typeof OPERATION_NAMES)[number]>] extends [never] ? true : never = true;

export function serviceOf<K extends OpName>(op: K): ServiceOf<K>;
export function serviceOf(op: OpName): Service {
  return op.startsWith('relay.') ? 'relay' : op.startsWith('presence.') ? 'presence' : 'matrix';
}

export function operationsOf<S extends Service>(service: S): OpsOf<S>[] {
  return OPERATION_NAMES.filter((op): op is OpsOf<S> => serviceOf(op) === service);
}

/** The NATS subject of an operation, under the instance id so several instances can share servers. */
export function subjectOf(instance: string, op: OpName, target?: string): string {
  return `qchat.${instance}.${op}${target === undefined ? '' : `.${target}`}`;
}

/** The queue group serving an operation: one member of it answers each request. */
export function queueOf(service: Service, target?: string): string {
  return target === undefined ? service : `${service}-${target}`;
}

/** How long one attempt of `op` waits for its answer (and, for relay.publish, relay's own deadline). */
export function timeoutOf<K extends OpName>(op: K, req: Req<K>, t: Timeouts): number {
  return OPERATIONS[op].timeoutMs(req, t);
}
