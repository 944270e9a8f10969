import { reasons } from '@qchat/protocol';
import type { Session } from '../session';
import { reply, replyFailure, type HandlerContext } from './context';

/** Registers the socket's nickname; presence broadcasts the `newcomer` frame, or we answer "already registered". */
export async function newcomer(ctx: HandlerContext, session: Session, frame: { newcomer: string }): Promise<void> {
  const nick = frame.newcomer;
  if (session.nick === nick) {
    reply(ctx, session, reasons.nicknameTaken(nick, session.channel));
    return;
  }
  try {
    await ctx.backend.register(session.channel, session.id, nick);
    session.registered(nick);
  } catch (err) {
    replyFailure(ctx, session, err, 'presence.register');
  }
}
