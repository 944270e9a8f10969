import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import { PACKAGE_VERSION, PROTOCOL_VERSION } from './build-info';

export type { Logger };

/** @deprecated the protocol version; use PROTOCOL_VERSION (or PACKAGE_VERSION for the server's own). */
export const VERSION = PROTOCOL_VERSION;

export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  service: string;
  level?: string;
  /** `auto` (default): human-readable when stdout is a terminal, JSON lines otherwise. */
  format?: LogFormat;
  /** Fields on every line: `instance`, and `edge` for an edge process. */
  bindings?: Record<string, unknown>;
  /** Write somewhere else than stdout (tests). */
  destination?: NodeJS.WritableStream;
}

/** pino-pretty as a synchronous stream, or undefined where it is not installed (production images omit dev dependencies). */
function prettyStream(): DestinationStream | undefined {
  try {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (opts: object) => DestinationStream;
    return pretty({ sync: true, colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,version,protocol,service' });
  } catch {
    return undefined;
  }
}

/** One root logger per process, secrets redacted: JSON lines on stdout, or pretty lines on a terminal. */
export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: { service: opts.service, version: PACKAGE_VERSION, protocol: PROTOCOL_VERSION, pid: process.pid, ...opts.bindings },
    redact: { paths: ['*.password', '*.token', '*.MATRIX_PING_TOKEN', '*.authorization', '*.cookie'], censor: '***' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.destination) return pino(options, opts.destination as DestinationStream);
  const format = opts.format ?? 'auto';
  if (format === 'pretty' || (format === 'auto' && process.stdout.isTTY)) {
    const stream = prettyStream();
    if (stream) return pino(options, stream);
  }
  return pino(options);
}

/** A logger that writes nothing, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
