import type { IncomingMessage } from 'node:http';
import type { Limits, TextBody } from '@qchat/protocol';
import type { Logger } from 'pino';

/** What the HTTP layer needs from the rest of the edge; plain objects, so tests can pass in-memory ones. */
export interface HttpDeps {
  config: {
    CHANNELS: string[];
    RULES: string;
    MAIN_LANG: string;
    limits: Limits;
    QFIELD_PLUGIN_URL: string;
    MAX_HTTP_BODY_BYTES: number;
    /** PUT /channel/{c}/text per client address: sustained rate and burst (defaults 120 and 60). */
    PUT_RATE_LIMIT_PER_MINUTE?: number;
    PUT_RATE_LIMIT_BURST?: number;
    /** Base map of the web page (XYZ template); '' or absent: the bundled world outline only. */
    MAP_TILE_URL?: string;
    MAP_TILE_ATTRIBUTION?: string;
  };
  /** The client address of a request, as the trust-proxy rule reads it (default: the socket's peer). */
  clientAddress?: (req: IncomingMessage) => string;
  log: Logger;
  /** Request metrics: known routes up front (their series start at 0), then one call per answered request. */
  http?: {
    routes(list: { path: string; methods: string[] }[]): void;
    request(route: string, method: string, status: number, seconds: number): void;
  };
  presence: {
    /** Registered nicknames of a channel, in any order. */
    users(channel: string): Promise<string[]>;
    /** Connection counts, one per requested channel, same order. */
    counts(channels: string[]): Promise<number[]>;
    /** Who holds a nickname in a channel and whether it is banned (protocol.md §6 D6). */
    holder(channel: string, nick: string): Promise<{ conn: string | null; banned: boolean }>;
  };
  /** Counted when a PUT is refused by its address's rate limit. */
  onRateLimited?: () => void;
  relay: {
    /** Stored frames of a channel as JSON strings, oldest first. */
    history(channel: string): Promise<string[]>;
    /** Publishes a validated text body; resolves with the broadcast frame JSON. Rejects with code 'uncompliant' when refused. */
    publishText(channel: string, body: TextBody): Promise<string>;
  };
  /** For GET /readyz. */
  readiness(): { ready: boolean; reasons: string[]; degraded?: string[] };
  /** Reported by GET /version and the OpenAPI document, e.g. "3.4.1". */
  version: string;
  /** More endpoints mounted beside the gischat API (the /matrix routes when MATRIX_CHAT_ENABLED). */
  extraEndpoints?: import('./routes').Endpoint[];
  /** Their OpenAPI paths. */
  extraOpenApiPaths?: Record<string, object>;
}
