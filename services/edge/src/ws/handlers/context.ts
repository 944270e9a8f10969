import { QChatError, frames } from '@qchat/protocol';
import type { Logger } from 'pino';
import { isOutage } from '../../backend-outage';
import type { Backend } from '../../backend';
import type { Hub } from '../hub';
import type { Session } from '../session';

export interface HandlerContext {
  backend: Backend;
  hub: Hub;
  log: Logger;
}

/** What a frame said about itself beyond its body: its own `id`, when it sent one. */
export interface FrameMeta { clientId?: string }

/** Answers the sender alone with an `uncompliant` frame. */
export function reply(ctx: HandlerContext, session: Session, reason: string): void {
  ctx.hub.send(session, Buffer.from(JSON.stringify(frames.uncompliant(reason))), 'private');
}

export const UNAVAILABLE = 'The server could not process this message right now (a backend service is unavailable). Please try again.';

/**
 * Turns a failed backend call into the sender's reply: a client-facing reason (uncompliant, nickname taken)
 * as it is, anything else as a clear "try again". An outage (unavailable, timeout, no responders) is logged by the
 * backend once when it starts and once when it ends; anything else here, once per failure.
 */
export function replyFailure(ctx: HandlerContext, session: Session, err: unknown, op: string): void {
  if (err instanceof QChatError && (err.code === 'uncompliant' || err.code === 'nickname_taken')) {
    reply(ctx, session, err.message);
    return;
  }
  const outage = isOutage(err);
  if (!outage) ctx.log.warn({ err, op, conn: session.id, code: err instanceof QChatError ? err.code : 'internal' }, 'backend call failed');
  reply(ctx, session, UNAVAILABLE);
}
