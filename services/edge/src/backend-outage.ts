/**
 * Outages of relay or presence are logged once by the edge's RpcClient (its `outage` option): per-socket failures
 * during one go to debug. `isOutage` says which failures those are.
 */
export { isOutage } from '@qchat/protocol';
