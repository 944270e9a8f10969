import { busSpec, channelsSpec, int, limitsFrom, limitsSpec, loadConfig } from '@qchat/runtime';

export const relaySpec = {
  ...busSpec,
  ...channelsSpec,
  ...limitsSpec,
  /** History kept per channel and replayed on connect; 0 keeps none (protocol.md §6 D17). */
  MAX_STORED_MESSAGES: int(5, { min: 0, max: 10_000 }),
  /** /healthz, /readyz and /metrics of this service. */
  METRICS_PORT: int(9102, { min: 0, max: 65535 }),
};

export type RelayConfig = ReturnType<typeof loadRelayConfig>;

export function loadRelayConfig(env: Record<string, string | undefined>) {
  const c = loadConfig(relaySpec, env);
  return Object.freeze({ ...c, limits: limitsFrom(c) });
}
