/**
 * The Matrix service: gischat's ping and the two-way channel ⇄ room bridge. Any number of instances may run;
 * the one holding the lease does the work (subscribes to the channel topics, catches up from history, syncs
 * the bridged rooms), the others stand by and take over within MATRIX_LEASE_MS when it goes away.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { decodeEnvelope, nowSeconds } from '@qchat/protocol';
import { RpcClient, type Requester } from '@qchat/bus';
import type { Engine, Unsubscribe } from '@qchat/engine';
import { MatrixClient, roomFilter, runSync, sleep } from '@qchat/matrix';
import { Closers, busReadiness, closeServer, createRegistry, once, registerDependencyGauge, startOpsServer, type Registry } from '@qchat/runtime';
import type { Logger } from 'pino';
import type { BridgeConfig } from './config';
import { FromMatrix } from './from-matrix';
import { createBridgeMetrics } from './metrics';
import { Outbox } from './outbox';
import { DONE_TTL_MS, ToMatrix, doneKey, type Destination } from './to-matrix';

export interface BridgeDeps {
  config: BridgeConfig;
  log: Logger;
  /** Channel topics to read, and the bridge's lease and state. */
  engine: Engine;
  requester: Requester;
  registry?: Registry;
  /** Serve /healthz, /readyz and /metrics on METRICS_PORT (off in the all-in-one process). */
  opsServer?: boolean;
}

interface Active { stop(): Promise<void> }

const RETRY_MS = 5_000;
const STOP_WAIT_MS = 2_000;

export function createBridge(deps: BridgeDeps) {
  const { config, log, engine, requester } = deps;
  const closers = new Closers(log);
  const registry = deps.registry ?? createRegistry('bridge');
  if (!deps.registry) registerDependencyGauge(registry, { engine, requester });
  const metrics = createBridgeMetrics(registry);
  const { state } = engine.bridge;
  const owner = `${hostname()}-${randomUUID().slice(0, 8)}`;
  const lease = engine.bridge.lease(owner, config.MATRIX_LEASE_MS);
  const rpc = new RpcClient(requester, { instance: config.INSTANCE_ID, timeouts: { requestMs: config.REQUEST_TIMEOUT_MS, imageMs: config.IMAGE_TIMEOUT_MS }, registry });
  let started = false;
  let active: Active | undefined;
  let lastRenewed = 0;
  let transition: Promise<void> = Promise.resolve();

  function outbox(name: string): Outbox {
    return new Outbox({
      name,
      max: config.MATRIX_QUEUE_MAX,
      log,
      count: (kind, outcome) => metrics.sends.inc({ kind, outcome }),
      length: (n) => metrics.queued.set({ queue: name }, n),
      done: (job) => state.set(doneKey(job.txnId), '1', DONE_TTL_MS),
    });
  }

  /** Takes up the work: subscriptions, history catch-up, room sync. */
  async function activate(): Promise<Active> {
    const abort = new AbortController();
    const unsubs: Unsubscribe[] = [];
    try {
      return await work(abort, unsubs);
    } catch (err) {
      abort.abort();
      await Promise.allSettled(unsubs.map((u) => u()));
      throw err;
    }
  }

  async function work(abort: AbortController, unsubs: Unsubscribe[]): Promise<Active> {
    const ping: Destination | undefined = config.pingEnabled
      ? { client: new MatrixClient({ homeserver: config.MATRIX_PING_HOMESERVER!, accessToken: config.MATRIX_PING_TOKEN! }), outbox: outbox('ping') }
      : undefined;
    const bridge: Destination | undefined = config.bridgeEnabled
      ? { client: new MatrixClient({ homeserver: config.MATRIX_BRIDGE_HOMESERVER!, accessToken: config.MATRIX_BRIDGE_TOKEN! }), outbox: outbox('bridge') }
      : undefined;
    const toMatrix = new ToMatrix({ config, state, ping, bridge, log });
    // Never carry what was said before the bridge first ran; after that, history fills hand-over gaps.
    await state.setIfAbsent('since', String(nowSeconds()));
    const notBefore = Number(await state.get('since')) || 0;
    const channels = config.pingEnabled ? config.CHANNELS : [...config.MATRIX_BRIDGE.keys()];
    // Per channel, frames are handled in order: first the history, then what arrived live meanwhile and after.
    const chains = new Map<string, Promise<void>>();
    const historyRead = new Map<string, () => void>();
    for (const channel of channels) chains.set(channel, new Promise<void>((resolve) => historyRead.set(channel, resolve)));
    const later = (channel: string, work: () => Promise<void>) => {
      const next = (chains.get(channel) ?? Promise.resolve()).then(work).catch((err: unknown) => log.warn({ err, channel }, 'channel frame not carried to matrix'));
      chains.set(channel, next);
    };
    for (const channel of channels) {
      unsubs.push(await engine.topics.subscribe(channel, (payload) => {
        const env = decodeEnvelope(payload);
        if (!env || env.route.to || env.route.conn || env.route.kind) return;
        const frame = env.frame.toString('utf8');
        later(channel, () => toMatrix.handle(channel, frame, notBefore));
      }));
    }
    // Subscribed first, then history: a message published meanwhile is seen twice and sent once.
    for (const channel of channels) {
      rpc.call('relay.history', { channel })
        .then(async ({ frames }) => { for (const f of frames) await toMatrix.handle(channel, f, notBefore); })
        .catch((err: unknown) => log.warn({ err, channel }, 'history not carried; messages sent while no bridge was active may be missing'))
        .finally(() => historyRead.get(channel)!());
    }
    const inbound = bridge ? roomsToChannels(bridge.client, abort.signal) : Promise.resolve();
    log.info({ owner, ping: config.pingEnabled, bridged: Object.fromEntries(config.MATRIX_BRIDGE) }, 'bridge active');
    return {
      stop: async () => {
        abort.abort();
        await Promise.allSettled(unsubs.map((u) => u()));
        await Promise.allSettled([...chains.values()]);
        await Promise.all([ping?.outbox.stop(), bridge?.outbox.stop()]);
        // A request in flight (whoami, join) is not abortable: bounded by its timeout, but not waited for past this.
        await Promise.race([inbound, sleep(STOP_WAIT_MS)]);
        log.info({ owner }, 'bridge stood down');
      },
    };
  }

  /** Matrix → channels, until aborted: a bad token or an unreachable homeserver is retried, never fatal. */
  async function roomsToChannels(client: MatrixClient, signal: AbortSignal): Promise<void> {
    const rooms = [...config.MATRIX_BRIDGE.values()];
    while (!signal.aborted) {
      try {
        const botUserId = await client.whoami();
        for (const room of rooms) {
          await client.join(room).catch((err: unknown) => log.error({ err, room }, 'bridge bot cannot join the room (invite it, or make the room public)'));
        }
        const syncKey = `sync:${client.homeserver}:${botUserId}`;
        const since = (await state.get(syncKey)) ?? undefined;
        const from = new FromMatrix({ config, client, botUserId, rpc, state, syncKey, metrics, log });
        await runSync({
          client,
          since,
          filter: roomFilter(rooms),
          onBatch: (batch) => from.handleBatch(batch),
          onError: (err, delayMs) => {
            metrics.syncErrors.inc();
            log.warn({ err, retryInMs: delayMs }, 'matrix sync failed');
          },
          signal,
        });
      } catch (err) {
        if (signal.aborted) return;
        metrics.syncErrors.inc();
        log.error({ err, retryInMs: RETRY_MS }, 'bridge cannot read the matrix rooms');
        await sleep(RETRY_MS, signal);
      }
    }
  }

  /** One lease round: renew or take it; start or stop the work when that changed. */
  async function round(): Promise<void> {
    let held: boolean;
    try {
      held = await lease.acquire();
    } catch (err) {
      // Redis away: keep working only while the lease we last renewed cannot have expired yet.
      held = active !== undefined && Date.now() - lastRenewed < (config.MATRIX_LEASE_MS * 2) / 3;
      log.warn({ err, held }, 'bridge lease not renewed');
    }
    if (held) lastRenewed = Date.now();
    metrics.leaseHeld.set(held ? 1 : 0);
    if (held && !active) {
      try {
        active = await activate();
      } catch (err) {
        log.error({ err }, 'bridge could not start its work; retrying');
        await lease.release().catch(() => undefined);
      }
    } else if (!held && active) {
      const was = active;
      active = undefined;
      await was.stop();
    }
  }

  async function start(): Promise<void> {
    const tick = () => { transition = transition.then(round); };
    tick();
    await transition;
    const timer = setInterval(tick, Math.max(200, Math.floor(config.MATRIX_LEASE_MS / 3)));
    closers.defer('lease', async () => {
      clearInterval(timer);
      await transition;
      if (active) await active.stop();
      active = undefined;
      metrics.leaseHeld.set(0);
      await lease.release().catch(() => undefined);
    });
    started = true;
    closers.defer('started', () => { started = false; });
    if (deps.opsServer !== false) {
      closers.add('ops server', await startOpsServer({ port: config.METRICS_PORT, registry, readiness }), closeServer);
    }
    log.info({ owner, active: active !== undefined, metricsPort: deps.opsServer !== false ? config.METRICS_PORT : undefined }, 'bridge started');
  }

  const readiness = () => busReadiness({ engine, requester }, { 'not started': started });

  return { start, stop: once(() => closers.closeAll()), readiness, registry, isActive: () => active !== undefined };
}
