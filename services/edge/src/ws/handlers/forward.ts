import { randomUUID } from 'node:crypto';
import type { ChatBody } from '@qchat/protocol';
import type { Session } from '../session';
import { replyFailure, type HandlerContext } from './context';

/**
 * Content messages (text, image, like, geojson, crs, bbox, position, model, script) go to relay, which stamps,
 * stores and publishes them; the sender sees its message in the broadcast echo, or gets an `uncompliant`.
 * The id is chosen here so a retried request is published once.
 */
export async function forward(ctx: HandlerContext, session: Session, body: ChatBody): Promise<void> {
  const id = randomUUID();
  try {
    await ctx.backend.publish(session.channel, id, body, 'ws');
  } catch (err) {
    // Relay may have published before its reply was lost (NATS went away): the echo is then the outcome.
    if (ctx.hub.delivered(session.channel, id)) return;
    replyFailure(ctx, session, err, 'relay.publish');
  }
}
