/**
 * Edge, presence and relay in one process, talking through the same engine and requester they would use apart:
 * in memory when REDIS_URL and NATS_URL are unset, Redis and NATS when they are set.
 */
import { connectBackends, type Backends } from '@qchat/bus';
import { createBridge, loadBridgeConfig, matrixWanted } from '@qchat/bridge';
import { createEdge } from '@qchat/edge';
import { createPresence } from '@qchat/presence';
import { createRelay } from '@qchat/relay';
import { createRegistry, printable, registerDependencyGauge, type Logger } from '@qchat/runtime';
import { loadStackConfig, type StackConfig } from './configs';

/**
 * `open`: backends already connected (an edge that found nobody serving presence and relay); closed by stop().
 * `configs`: the configuration already read (so the edge keeps the EDGE_ID its log lines carry).
 */
export async function startStack(env: Record<string, string | undefined>, log: Logger, open?: Backends, configs?: StackConfig) {
  const { edge: edgeConfig, presence: presenceConfig, relay: relayConfig } = configs ?? loadStackConfig(env);
  log.debug({ config: printable({ ...presenceConfig, ...relayConfig, ...edgeConfig }) }, 'configuration');
  const bridgeConfig = matrixWanted(env) ? loadBridgeConfig(env) : undefined;
  const backends = open ?? await connectBackends(edgeConfig, log, 'all-in-one');
  const { engine, requester } = backends;
  const registry = createRegistry('all-in-one');
  registerDependencyGauge(registry, { engine, requester });
  const presence = createPresence({ config: presenceConfig, log: log.child({ component: 'presence' }), engine, requester, registry, opsServer: false });
  const relay = createRelay({ config: relayConfig, log: log.child({ component: 'relay' }), engine, requester, registry, opsServer: false });
  await presence.start();
  await relay.start();
  // The Matrix ping and bridge, when configured (services/bridge; one active instance across processes).
  const bridge = bridgeConfig && createBridge({ config: bridgeConfig, log: log.child({ component: 'bridge' }), engine, requester, registry, opsServer: false });
  await bridge?.start();
  const edge = createEdge({ config: edgeConfig, log, engine, requester, registry });
  await edge.start();
  log.debug({ port: edge.port(), engine: engine.mode, requests: requester.mode }, 'presence and relay run in this process');
  return {
    edge,
    stop: async () => {
      await edge.stop();
      await bridge?.stop();
      await relay.stop();
      await presence.stop();
      await backends.close();
    },
  };
}
