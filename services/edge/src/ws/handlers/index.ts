import type { ClientFrame } from '@qchat/protocol';
import type { Session } from '../session';
import type { FrameMeta, HandlerContext } from './context';
import { exiter } from './exiter';
import { forward } from './forward';
import { newcomer } from './newcomer';
import { serverOnly } from './server-only';

type Handler<F> = (ctx: HandlerContext, session: Session, frame: F, meta: FrameMeta) => Promise<void>;
type Handlers = { [T in ClientFrame['type']]: Handler<Extract<ClientFrame, { type: T }>> };

/** One handler per inbound type: a type missing here is a compile error. */
export const handlers = {
  text: forward,
  image: forward,
  like: forward,
  geojson: forward,
  crs: forward,
  bbox: forward,
  position: forward,
  model: forward,
  script: forward,
  newcomer,
  exiter,
  uncompliant: serverOnly,
  nb_users: serverOnly,
} satisfies Handlers;

export function dispatch(ctx: HandlerContext, session: Session, frame: ClientFrame, meta: FrameMeta = {}): Promise<void> {
  const handle = handlers[frame.type] as Handler<ClientFrame>;
  return handle(ctx, session, frame, meta);
}

export { reply, UNAVAILABLE, type FrameMeta, type HandlerContext } from './context';
