/**
 * Edge, presence and relay in one process, talking through the same bus they would use apart: in-memory
 * adapters when REDIS_URL and NATS_URL are unset, Redis and NATS when they are set.
 */
import { createBus, type Bus } from '@qchat/bus';
import { createBridge, loadBridgeConfig, matrixWanted } from '@qchat/bridge';
import { createEdge, loadEdgeConfig } from '@qchat/edge';
import { createPresence, loadPresenceConfig } from '@qchat/presence';
import { createRelay, loadRelayConfig } from '@qchat/relay';
import { createRegistry, printable, registerDependencyGauge, type Logger } from '@qchat/runtime';

/** `bus`: an already open bus (an edge that found nobody serving presence and relay); closed by stop(). */
export async function startStack(env: Record<string, string | undefined>, log: Logger, openBus?: Bus) {
  const edgeConfig = loadEdgeConfig(env);
  const presenceConfig = loadPresenceConfig(env);
  const relayConfig = loadRelayConfig(env);
  const bridgeConfig = matrixWanted(env) ? loadBridgeConfig(env) : undefined;
  log.info({ config: printable(edgeConfig) }, 'configuration');
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
  log.info({ port: edge.port(), broker: bus.mode.broker, requests: bus.mode.requester }, 'all-in-one stack running');
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
