import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const VERSION = '3.4.1';

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Write somewhere else than stdout (tests). */
  destination?: NodeJS.WritableStream;
}

/** One root logger per process, JSON lines on stdout, secrets redacted. */
export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    level: opts.level ?? 'info',
    base: { service: opts.service, version: VERSION, pid: process.pid },
    redact: { paths: ['*.password', '*.token', '*.MATRIX_PING_TOKEN', '*.authorization', '*.cookie'], censor: '***' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination as DestinationStream) : pino(options);
}

/** A logger that writes nothing, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
