import { busRules, busSpec, channelsSpec, int, limitsFrom, limitsRules, limitsSpec, loadConfig, standaloneRules, standaloneSpec, type Rule } from '@qchat/runtime';

export const relaySpec = {
  ...busSpec,
  ...channelsSpec,
  ...limitsSpec,
  ...standaloneSpec,
  /** History kept per channel and replayed on connect; 0 keeps none (protocol.md §6 D17). */
  MAX_STORED_MESSAGES: int(5, { min: 0, max: 10_000 }),
  /** /healthz, /readyz and /metrics of this service. */
  METRICS_PORT: int(9102, { min: 0, max: 65535 }),
};

export const relayRules: Rule[] = [...busRules, ...limitsRules];

export type RelayConfig = ReturnType<typeof loadRelayConfig>;

/** `standalone`: the relay process of its own (not inside an edge), which needs REDIS_URL and NATS_URL. */
export function loadRelayConfig(env: Record<string, string | undefined>, opts: { standalone?: boolean } = {}) {
  const c = loadConfig(relaySpec, env, opts.standalone ? [...relayRules, ...standaloneRules] : relayRules);
  return Object.freeze({ ...c, limits: limitsFrom(c) });
}
