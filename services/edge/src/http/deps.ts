import type { Limits, TextBody } from '@qchat/protocol';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** What the HTTP layer needs from the rest of the edge; plain objects, so tests can pass in-memory ones. */
export interface HttpDeps {
  config: {
    CHANNELS: string[];
    RULES: string;
    MAIN_LANG: string;
    limits: Limits;
    QFIELD_PLUGIN_URL: string;
    MAX_HTTP_BODY_BYTES: number;
  };
  log: Logger;
  /** Served by GET /metrics. */
  registry: Registry;
  presence: {
    /** Registered nicknames of a channel, in any order. */
    users(channel: string): Promise<string[]>;
    /** Connection counts, one per requested channel, same order. */
    counts(channels: string[]): Promise<number[]>;
  };
  relay: {
    /** Stored frames of a channel as JSON strings, oldest first. */
    history(channel: string): Promise<string[]>;
    /** Publishes a validated text body; resolves with the broadcast frame JSON. Rejects with code 'uncompliant' when refused. */
    publishText(channel: string, body: TextBody): Promise<string>;
  };
  /** For GET /readyz. */
  readiness(): { ready: boolean; reasons: string[] };
  /** Reported by GET /version and the OpenAPI document, e.g. "3.4.1". */
  version: string;
  /** More endpoints mounted beside the gischat API (the /matrix routes when MATRIX_CHAT_ENABLED). */
  extraEndpoints?: import('./routes').Endpoint[];
  /** Their OpenAPI paths. */
  extraOpenApiPaths?: Record<string, object>;
}
