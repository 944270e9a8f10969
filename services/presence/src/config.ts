import { busSpec, channelsSpec, int, loadConfig } from '@qchat/runtime';

export const presenceSpec = {
  ...busSpec,
  ...channelsSpec,
  /** How often presence looks for edges whose liveness expired. */
  REAP_INTERVAL_MS: int(1_000, { min: 100 }),
  METRICS_PORT: int(9101, { min: 0, max: 65535 }),
  /** Above this many connections in a channel, newcomer and exiter frames are no longer broadcast (the count still is). */
  LARGE_CHANNEL_MEMBERS: int(1_000, { min: 1 }),
};

export type PresenceConfig = ReturnType<typeof loadPresenceConfig>;

export function loadPresenceConfig(env: Record<string, string | undefined>) {
  return loadConfig(presenceSpec, env);
}
