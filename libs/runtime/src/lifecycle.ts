import type { Logger } from 'pino';
import { ConfigError } from './config';

type Closer = () => Promise<void> | void;

/** A last-in-first-out stack of closers: `closeAll` undoes boot in reverse; calling it twice is harmless. */
export class Closers {
  private readonly stack: { name: string; close: Closer }[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly log?: Logger) {}

  add<T>(name: string, resource: T, close: (r: T) => Promise<unknown> | unknown): T {
    this.stack.push({ name, close: async () => { await close(resource); } });
    return resource;
  }

  defer(name: string, close: Closer): void {
    this.stack.push({ name, close });
  }

  closeAll(): Promise<void> {
    this.closing ??= (async () => {
      while (this.stack.length > 0) {
        const item = this.stack.pop()!;
        try {
          await item.close();
        } catch (err) {
          this.log?.warn({ err, resource: item.name }, 'close failed');
        }
      }
    })();
    return this.closing;
  }
}

export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/**
 * SIGTERM/SIGINT call `stop`; exit 0 when it resolves, 1 when it throws or the watchdog fires; a second
 * signal exits at once. Only main.ts calls this.
 */
export function handleSignals(opts: { stop: () => Promise<void>; timeoutMs: number; log: Logger }): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    opts.log.info({ signal }, 'stopping');
    const watchdog = setTimeout(() => {
      opts.log.error({ timeoutMs: opts.timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, opts.timeoutMs);
    watchdog.unref();
    opts.stop().then(
      () => {
        opts.log.info('stopped');
        opts.log.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        opts.log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Exits 1 with one clear line per problem when startup fails: a configuration problem prints only its lines (no
 * stack trace, no JSON); other failures (unreachable dependencies) are logged with their error too.
 */
export async function runMain(log: () => Logger, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${message}\n`);
    if (!(err instanceof ConfigError)) {
      try { log().error({ err }, 'startup failed'); } catch { /* logger may not exist yet */ }
    }
    process.exit(1);
  }
}

/** True when the process was started with --check-config. */
export function checkConfigRequested(argv: readonly string[] = process.argv): boolean {
  return argv.includes('--check-config');
}

/**
 * Validates the configuration and exits: 0 with one line on stdout when it is valid, 1 with every problem on
 * stderr (one line each, no stack trace) when not.
 */
export function checkConfigAndExit(what: string, load: () => unknown): never {
  try {
    load();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.stdout.write(`configuration valid for ${what}\n`);
  process.exit(0);
}
