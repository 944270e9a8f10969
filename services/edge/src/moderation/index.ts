/** Wires moderation into an edge: the ban list, the control topic, and the admin server when ADMIN_TOKEN is set. */
import type { Topics } from '@qchat/engine';
import { VERSION, closeServer, type Closers } from '@qchat/runtime';
import type { Logger } from 'pino';
import type { Backend } from '../backend';
import type { EdgeMetrics } from '../metrics';
import type { Hub } from '../ws/hub';
import type { BanList } from './ban-list';
import { startAdminServer } from './admin-server';
import { startControl } from './control';

export { BanList } from './ban-list';

const BAN_RELOAD_MS = 10_000;

export interface ModerationWiring {
  config: { ADMIN_TOKEN?: string | undefined; ADMIN_PORT: number; ADMIN_HOST: string; EDGE_ID: string };
  topics: Topics;
  backend: Backend;
  hub: Hub;
  bans: BanList;
  metrics: EdgeMetrics;
  log: Logger;
  closers: Closers;
}

/** Returns the admin port when the API is served, else undefined. */
export async function startModeration(w: ModerationWiring): Promise<number | undefined> {
  w.closers.defer('ban list', w.bans.start(BAN_RELOAD_MS));
  w.closers.defer('control topic', startControl({ topics: w.topics, hub: w.hub, bans: w.bans, metrics: w.metrics, log: w.log }));
  const token = w.config.ADMIN_TOKEN;
  if (!token) return undefined;
  const server = await startAdminServer({
    token,
    backend: w.backend,
    log: w.log.child({ component: 'moderation' }),
    edge: w.config.EDGE_ID,
    version: VERSION,
    port: w.config.ADMIN_PORT,
    host: w.config.ADMIN_HOST,
  });
  w.closers.add('admin server', server, closeServer);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : w.config.ADMIN_PORT;
  w.log.info({ port, host: w.config.ADMIN_HOST }, 'moderation API listening');
  return port;
}
