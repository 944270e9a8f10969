import { ConfigError, busRules, busSpec, channelsSpec, int, limitsFrom, limitsRules, limitsSpec, loadConfig, optionalStr, optionalUrl, str, type FieldParser, type Rule } from '@qchat/runtime';

/** `MATRIX_BRIDGE=QGIS=!room:server,Geotribu=!other:server`: channel → room, one room per channel. */
function bridgeMap(): FieldParser<ReadonlyMap<string, string>> {
  return (raw, name) => {
    const map = new Map<string, string>();
    if (raw === undefined || raw.trim() === '') return map;
    for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const cut = entry.lastIndexOf('=');
      const channel = entry.slice(0, cut).trim();
      const room = entry.slice(cut + 1).trim();
      if (cut <= 0 || !/^[!#][^\s,]+$/.test(room)) throw new Error(`${name}: expected channel=!roomid entries, got '${entry}'`);
      if (map.has(channel)) throw new Error(`${name}: channel '${channel}' is bridged twice`);
      if ([...map.values()].includes(room)) throw new Error(`${name}: room '${room}' is bridged to two channels`);
      map.set(channel, room);
    }
    return map;
  };
}

/** The suffix must contain a character the nickname rule forbids, so a bridged author is never a QChat nickname. */
function authorSuffix(): FieldParser<string> {
  return (raw, name) => {
    const s = raw === undefined || raw === '' ? '[m]' : raw;
    if (/^[A-Za-z0-9_-]*$/.test(s)) throw new Error(`${name}: must contain a character outside A-Z a-z 0-9 _ - (got '${s}')`);
    if ([...s].length > 16) throw new Error(`${name}: at most 16 characters`);
    return s;
  };
}

export const matrixPingSpec = {
  /** gischat's ping: a text starting with this is also posted to MATRIX_PING_ROOMID. Empty disables. */
  MATRIX_PING_MESSAGE_PREFIX: str('@matrixping'),
  MATRIX_PING_HOMESERVER: optionalUrl(['http', 'https']),
  MATRIX_PING_ROOMID: optionalStr(),
  MATRIX_PING_TOKEN: optionalStr(),
};

export const bridgeSpec = {
  ...busSpec,
  ...channelsSpec,
  ...limitsSpec,
  ...matrixPingSpec,
  MATRIX_BRIDGE: bridgeMap(),
  MATRIX_BRIDGE_HOMESERVER: optionalUrl(['http', 'https']),
  /** Access token of the bridge's bot account (it joins the rooms and posts as itself). */
  MATRIX_BRIDGE_TOKEN: optionalStr(),
  MATRIX_BRIDGE_AUTHOR_SUFFIX: authorSuffix(),
  /** Most Matrix sends waiting per destination (ping, bridge); beyond it new ones are dropped and counted. */
  MATRIX_QUEUE_MAX: int(1_000, { min: 1 }),
  /** Lease of the active bridge instance in Redis; a standby takes over within this after the active one dies. */
  MATRIX_LEASE_MS: int(15_000, { min: 1_000 }),
  METRICS_PORT: int(9103, { min: 0, max: 65535 }),
};

/** The rules every service applies to the shared variables (timeouts against the stop budget, limits). */
export const bridgeRules: Rule[] = [...busRules, ...limitsRules];

export type BridgeConfig = ReturnType<typeof loadBridgeConfig>;

export function loadBridgeConfig(env: Record<string, string | undefined>) {
  const c = loadConfig(bridgeSpec, env, bridgeRules);
  const problems: string[] = [];
  const ping = [c.MATRIX_PING_HOMESERVER, c.MATRIX_PING_ROOMID, c.MATRIX_PING_TOKEN];
  if (ping.some(Boolean) && !ping.every(Boolean)) problems.push('MATRIX_PING_HOMESERVER, MATRIX_PING_ROOMID and MATRIX_PING_TOKEN: set all three or none');
  for (const channel of c.MATRIX_BRIDGE.keys()) if (!c.CHANNELS.includes(channel)) problems.push(`MATRIX_BRIDGE: channel '${channel}' is not in CHANNELS`);
  if (c.MATRIX_BRIDGE.size > 0 && (!c.MATRIX_BRIDGE_HOMESERVER || !c.MATRIX_BRIDGE_TOKEN)) problems.push('MATRIX_BRIDGE needs MATRIX_BRIDGE_HOMESERVER and MATRIX_BRIDGE_TOKEN');
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    ...c,
    limits: limitsFrom(c),
    /** gischat pings only when the prefix and all three MATRIX_PING_* are non-empty. */
    pingEnabled: c.MATRIX_PING_MESSAGE_PREFIX !== '' && ping.every(Boolean),
    bridgeEnabled: c.MATRIX_BRIDGE.size > 0,
  });
}

/** True when the environment asks for any Matrix work (the all-in-one process starts the bridge then). */
export function matrixWanted(env: Record<string, string | undefined>): boolean {
  return Boolean(env.MATRIX_BRIDGE?.trim() || env.MATRIX_PING_HOMESERVER?.trim() || env.MATRIX_PING_ROOMID?.trim() || env.MATRIX_PING_TOKEN?.trim());
}
