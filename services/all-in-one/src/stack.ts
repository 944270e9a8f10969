/**
 * Edge, presence and relay in one process, talking through the same bus they would use apart: in-memory
 * adapters when REDIS_URL and NATS_URL are unset, Redis and NATS when they are set.
 */
import { createBus, type Bus } from '@qchat/bus';
import { createBridge, loadBridgeConfig, matrixWanted } from '@qchat/bridge';
import { createEdge } from '@qchat/edge';
import { createPresence } from '@qchat/presence';
import { createRelay } from '@qchat/relay';
import { createRegistry, printable, registerDependencyGauge, type Logger } from '@qchat/runtime';
import { loadStackConfig, type StackConfig } from './configs';

/**
 * `openBus`: an already open bus (an edge that found nobody serving presence and relay); closed by stop().
 * `configs`: the configuration already read (so the edge keeps the EDGE_ID its log lines carry).
 */
export async function startStack(env: Record<string, string | undefined>, log: Logger, openBus?: Bus, configs?: StackConfig) {
  const { edge: edgeConfig, presence: presenceConfig, relay: relayConfig } = configs ?? loadStackConfig(env);
  log.debug({ config: printable({ ...presenceConfig, ...relayConfig, ...edgeConfig }) }, 'configuration');
  const bridgeConfig = matrixWanted(env) ? loadBridgeConfig(env) : undefined;
  const bus = openBus ?? await createBus(edgeConfig, log, 'all-in-one');
  const registry = createRegistry('all-in-one');
  registerDependencyGauge(registry, bus);
  const presence = createPresence({ config: presenceConfig, log: log.child({ component: 'presence' }), bus, registry, opsServer: false });
  const relay = createRelay({ config: relayConfig, log: log.child({ component: 'relay' }), bus, registry, opsServer: false });
  await presence.start();
  await relay.start();
  // The Matrix ping and bridge, when configured (services/bridge; one active instance across processes).
  const bridge = bridgeConfig && createBridge({ config: bridgeConfig, log: log.child({ component: 'bridge' }), bus, registry, opsServer: false });
  await bridge?.start();
  const edge = createEdge({ config: edgeConfig, log, bus, registry });
  await edge.start();
  log.debug({ port: edge.port(), broker: bus.mode.broker, requests: bus.mode.requester }, 'presence and relay run in this process');
  return {
    edge,
    stop: async () => {
      await edge.stop();
      await bridge?.stop();
      await relay.stop();
      await presence.stop();
      await bus.close();
    },
  };
}
