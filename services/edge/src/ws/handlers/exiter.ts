import type { Session } from '../session';
import { reply, replyFailure, type HandlerContext } from './context';

/**
 * An `exiter` naming the socket's own nickname (QField sends one before closing) releases the nickname at
 * once, with the `exiter` and `nb_users` frames (protocol.md §6 D19). Anything else is answered, not ignored.
 */
export async function exiter(ctx: HandlerContext, session: Session, frame: { exiter: string }): Promise<void> {
  if (session.nick !== frame.exiter) {
    reply(ctx, session, `Cannot announce the exit of '${frame.exiter}': it is not the nickname registered by this connection`);
    return;
  }
  try {
    await ctx.backend.leave(session.channel, session.id, true);
    session.released();
  } catch (err) {
    replyFailure(ctx, session, err, 'presence.leave');
  }
}
