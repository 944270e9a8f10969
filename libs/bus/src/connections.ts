import { connect, Events, DebugEvents, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { redactUrl } from '@qchat/runtime';
import { NatsRequester } from './requester-nats';

/** Connects to NATS, retrying forever (the client's default gives up after 10 attempts). */
export async function connectNats(url: string, log: Logger, name: string): Promise<{ nc: NatsConnection; requester: NatsRequester }> {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: true,
    pingInterval: 5_000,
    maxPingOut: 2,
    // nats.js otherwise builds an Error (with a captured stack) per request and per timer, only to make a timeout's
    // trace point at the caller: 1.2 % of an edge's CPU and ~1 KiB of garbage per request. Our timeouts are logged
    // with the operation name, which says the same.
    noAsyncTraces: true,
  });
  const requester = new NatsRequester(nc, log);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        requester.setReconnecting(true);
        log.warn({ url: redactUrl(url) }, 'nats disconnected');
      } else if (s.type === Events.Reconnect) {
        requester.setReconnecting(false);
        log.info({ url: redactUrl(url) }, 'nats reconnected');
      } else if (s.type === DebugEvents.Reconnecting) {
        requester.setReconnecting(true);
      }
    }
  })();
  return { nc, requester };
}
