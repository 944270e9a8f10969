import { randomUUID } from 'node:crypto';
import { messageIdFor, moderationReasons, type ChatBody } from '@qchat/protocol';
import type { Session } from '../session';
import { reply, replyFailure, type FrameMeta, type HandlerContext } from './context';

/** The nickname a content message claims: its author, or for a like the liker. */
export function claimedNickname(body: ChatBody): string {
  return body.type === 'like' ? body.liker_author : body.author;
}

/**
 * protocol.md §6 D6: a message may not claim a nickname another connection registered (on any edge), nor a banned
 * one. Posting under the socket's own nickname costs nothing; any other name is checked with presence, so
 * unregistered (incognito) posting keeps working under free names.
 */
async function refusal(ctx: HandlerContext, session: Session, nick: string): Promise<string | null> {
  if (nick === session.nick) return null;
  const { conn, banned } = await ctx.backend.holder(session.channel, nick);
  if (banned) return moderationReasons.nicknameBanned(nick);
  if (conn !== null && conn !== session.id) return moderationReasons.impersonation(nick, session.channel);
  return null;
}

/**
 * Content messages (text, image, like, geojson, crs, bbox, position, model, script) go to relay, which stamps,
 * stores and publishes them; the sender sees its message in the broadcast echo, or gets an `uncompliant`.
 * The id is chosen here so a retried request is published once.
 */
export async function forward(ctx: HandlerContext, session: Session, body: ChatBody, meta: FrameMeta = {}): Promise<void> {
  try {
    const refused = await refusal(ctx, session, claimedNickname(body));
    if (refused !== null) return reply(ctx, session, refused);
  } catch (err) {
    return replyFailure(ctx, session, err, 'presence.holder');
  }
  // A frame with its own id keeps a message id derived from it: sent again (a client retrying after a reconnect),
  // relay finds it done and publishes nothing (within its one-minute memory of published ids).
  const id = meta.clientId ? messageIdFor(session.channel, meta.clientId) : randomUUID();
  try {
    await ctx.backend.publish(session.channel, id, body, 'ws');
  } catch (err) {
    // Relay may have published before its reply was lost (NATS went away): the echo is then the outcome.
    if (ctx.hub.delivered(session.channel, id)) return;
    replyFailure(ctx, session, err, 'relay.publish');
  }
}
