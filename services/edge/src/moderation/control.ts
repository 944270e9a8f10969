/**
 * The edge's end of the control topic: moderators' kicks close the matching local sockets, a ban-list change
 * reloads the bans. Control messages are broker data, so they are parsed defensively; what is not one is dropped
 * and counted.
 */
import { parseControl, type ControlMessage } from '@qchat/protocol';
import type { Topics, Unsubscribe } from '@qchat/engine';
import type { Logger } from 'pino';
import type { EdgeMetrics } from '../metrics';
import type { Hub } from '../ws/hub';
import type { Session } from '../ws/session';
import type { BanList } from './ban-list';

const RETRY_MS = 1_000;

export interface ControlDeps {
  topics: Pick<Topics, 'subscribeControl'>;
  hub: Hub;
  bans: BanList;
  metrics: EdgeMetrics;
  log: Logger;
}

function matches(m: Extract<ControlMessage, { op: 'kick' }>, s: Session): boolean {
  if (s.closed || (m.channel !== null && m.channel !== s.channel)) return false;
  return (m.nick !== null && s.nick === m.nick) || (m.address !== null && s.ip === m.address);
}

export function handleControl(deps: ControlDeps, payload: Buffer): void {
  const m = parseControl(payload);
  if (m === null) {
    deps.metrics.brokerDropped.inc({ reason: 'control' });
    deps.log.warn({ bytes: payload.length }, 'malformed control message dropped');
    return;
  }
  if (m.op === 'bans') {
    void deps.bans.refresh();
    return;
  }
  let closed = 0;
  for (const s of deps.hub.sessions()) {
    if (matches(m, s) && s.close(m.code, m.reason)) closed++;
  }
  if (closed > 0) deps.log.info({ sockets: closed, code: m.code, channel: m.channel }, 'sockets closed by a moderator');
}

/** Subscribes (retrying while the broker is away); returns the unsubscribe. */
export function startControl(deps: ControlDeps): () => Promise<void> {
  let stopped = false;
  let unsubscribe: Unsubscribe | undefined;
  const attempt = () => {
    deps.topics.subscribeControl((payload) => handleControl(deps, payload)).then(
      (u) => {
        if (stopped) void u();
        else unsubscribe = u;
      },
      (err: unknown) => {
        deps.log.warn({ err }, 'control topic subscription failed; retrying');
        if (!stopped) setTimeout(attempt, RETRY_MS).unref();
      },
    );
  };
  attempt();
  return async () => {
    stopped = true;
    await unsubscribe?.();
  };
}
