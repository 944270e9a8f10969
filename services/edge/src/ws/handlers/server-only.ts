import type { Session } from '../session';
import { reply, type HandlerContext } from './context';

/** `uncompliant` and `nb_users` are sent by the server only; a client sending one is told so. */
export async function serverOnly(ctx: HandlerContext, session: Session, frame: { type: string }): Promise<void> {
  reply(ctx, session, `Message type '${frame.type}' is sent by the server only`);
}
