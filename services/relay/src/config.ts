import { busRules, busSpec, channelsSpec, int, limitsFrom, limitsRules, limitsSpec, loadConfig, standaloneRules, standaloneSpec, type Rule } from '@qchat/runtime';

export const relaySpec = {
  ...busSpec,
  ...channelsSpec,
  ...limitsSpec,
  ...standaloneSpec,
  /** History kept per channel and replayed on connect; 0 keeps none (protocol.md §6 D17). */
  MAX_STORED_MESSAGES: int(5, { min: 0, max: 10_000 }),
  /** Images decoded at once by one relay, and images waiting for a turn (more are refused: "send again"). */
  IMAGE_CONCURRENCY: int(2, { min: 1, max: 64 }),
  IMAGE_QUEUE_LENGTH: int(32, { min: 0 }),
  /** Refused from the header, before decoding: width × height of a picture, of a GIF, and frames announced. */
  MAX_IMAGE_PIXELS: int(50_000_000, { min: 1 }),
  MAX_GIF_PIXELS: int(16_000_000, { min: 1 }),
  MAX_IMAGE_FRAMES: int(1_000, { min: 1 }),
  /** /healthz, /readyz and /metrics of this service. */
  METRICS_PORT: int(9102, { min: 0, max: 65535 }),
};

export const relayRules: Rule[] = [...busRules, ...limitsRules];

export type RelayConfig = ReturnType<typeof loadRelayConfig>;

/** `standalone`: the relay process of its own (not inside an edge), which needs REDIS_URL and NATS_URL. */
export function loadRelayConfig(env: Record<string, string | undefined>, opts: { standalone?: boolean } = {}) {
  const c = loadConfig(relaySpec, env, opts.standalone ? [...relayRules, ...standaloneRules] : relayRules);
  return Object.freeze({
    ...c,
    limits: limitsFrom(c),
    decodeLimits: Object.freeze({ maxPixels: c.MAX_IMAGE_PIXELS, maxGifPixels: c.MAX_GIF_PIXELS, maxFrames: c.MAX_IMAGE_FRAMES }),
  });
}
