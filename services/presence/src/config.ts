import { atMost, busRules, busSpec, channelsSpec, int, loadConfig, standaloneRules, standaloneSpec, type Rule } from '@qchat/runtime';

export const presenceSpec = {
  ...busSpec,
  ...channelsSpec,
  ...standaloneSpec,
  /** How often presence looks for edges whose liveness expired. */
  REAP_INTERVAL_MS: int(1_000, { min: 100 }),
  METRICS_PORT: int(9101, { min: 0, max: 65535 }),
  /** Above this many connections in a channel, newcomer and exiter frames are no longer broadcast (the count still is). */
  LARGE_CHANNEL_MEMBERS: int(1_000, { min: 1 }),
};

export const presenceRules: Rule[] = [
  ...busRules,
  atMost('REAP_INTERVAL_MS', 'EDGE_TTL_MS', { factor: 0.5, why: 'a dead edge must be found well within its TTL' }),
];

export type PresenceConfig = ReturnType<typeof loadPresenceConfig>;

/** `standalone`: the presence process of its own (not inside an edge), which needs REDIS_URL and NATS_URL. */
export function loadPresenceConfig(env: Record<string, string | undefined>, opts: { standalone?: boolean } = {}) {
  return loadConfig(presenceSpec, env, opts.standalone ? [...presenceRules, ...standaloneRules] : presenceRules);
}
