/**
 * The configuration of every service, read in one pass: the all-in-one process (and an edge that may serve
 * presence and relay itself) reports every bad variable of all three at once, and `npm run check-config` uses the
 * same loaders.
 */
import { loadEdgeConfig, type EdgeConfig } from '@qchat/edge';
import { loadPresenceConfig, type PresenceConfig } from '@qchat/presence';
import { loadRelayConfig, type RelayConfig } from '@qchat/relay';
import { collectConfig } from '@qchat/runtime';

export interface StackConfig { edge: EdgeConfig; presence: PresenceConfig; relay: RelayConfig }

type Env = Record<string, string | undefined>;

export function loadStackConfig(env: Env): StackConfig {
  const [edge, presence, relay] = collectConfig<[EdgeConfig, PresenceConfig, RelayConfig]>([
    () => loadEdgeConfig(env),
    () => loadPresenceConfig(env),
    () => loadRelayConfig(env),
  ]);
  return { edge, presence, relay };
}

export const CHECKABLE = ['all', 'all-in-one', 'edge', 'presence', 'relay'] as const;
export type Checkable = (typeof CHECKABLE)[number];

/**
 * Loads the configuration `service` would start with (throws one ConfigError listing every problem). `all` and
 * `all-in-one`: the three services in one process; `presence` and `relay` alone also need REDIS_URL and NATS_URL
 * (or MEMORY_MODE=true); `edge` also checks presence's and relay's variables unless EMBED_SERVICES=never, since it
 * may serve them itself.
 */
export function checkServiceConfig(service: Checkable, env: Env): void {
  switch (service) {
    case 'presence': loadPresenceConfig(env, { standalone: true }); return;
    case 'relay': loadRelayConfig(env, { standalone: true }); return;
    case 'edge':
      if (env.EMBED_SERVICES?.trim() === 'never') loadEdgeConfig(env);
      else loadStackConfig(env);
      return;
    default: loadStackConfig(env);
  }
}
