/**
 * Environment parsing: a spec maps variable names to field parsers; `loadConfig` collects every problem and
 * throws once, so a service stops before opening a socket with one line per bad variable.
 */
export type FieldParser<T> = (raw: string | undefined, name: string) => T;
export type Spec = Record<string, FieldParser<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: ReturnType<S[K]> };

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

function blank(raw: string | undefined): raw is undefined {
  return raw === undefined || raw.trim() === '';
}

/** Integer as Python's int() reads it: blanks around, `_` between digits (`5_000_000`). */
export function int(def: number, opts: { min?: number; max?: number } = {}): FieldParser<number> {
  return (raw, name) => {
    if (blank(raw)) return def;
    const s = raw.trim();
    if (!/^[+-]?\d+(_\d+)*$/.test(s)) throw new Error(`${name}: expected an integer, got '${raw}'`);
    const n = Number(s.replaceAll('_', ''));
    if (!Number.isSafeInteger(n)) throw new Error(`${name}: integer out of range, got '${raw}'`);
    if (opts.min !== undefined && n < opts.min) throw new Error(`${name}: must be >= ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) throw new Error(`${name}: must be <= ${opts.max}, got ${n}`);
    return n;
  };
}

export function str(def: string): FieldParser<string> {
  return (raw) => (raw === undefined ? def : raw);
}

export function optionalStr(): FieldParser<string | undefined> {
  return (raw) => (blank(raw) ? undefined : raw.trim());
}

export function bool(def: boolean): FieldParser<boolean> {
  return (raw, name) => {
    if (blank(raw)) return def;
    const s = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
    throw new Error(`${name}: expected true/false, got '${raw}'`);
  };
}

export function oneOf<const T extends string>(values: readonly T[], def: T): FieldParser<T> {
  return (raw, name) => {
    if (blank(raw)) return def;
    const s = raw.trim() as T;
    if (!values.includes(s)) throw new Error(`${name}: expected one of ${values.join(', ')}, got '${raw}'`);
    return s;
  };
}

/** Comma list, trimmed, empties dropped (protocol.md §6 D22). */
export function list(def: string[]): FieldParser<string[]> {
  return (raw, name) => {
    if (raw === undefined) return def;
    const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) throw new Error(`${name}: expected a comma-separated list with at least one entry`);
    return [...new Set(items)];
  };
}

/** URL with one of the given schemes, or undefined when unset. */
export function optionalUrl(schemes: string[]): FieldParser<string | undefined> {
  return (raw, name) => {
    if (blank(raw)) return undefined;
    const s = raw.trim();
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new Error(`${name}: not a URL: '${redactUrl(s)}'`);
    }
    const scheme = url.protocol.replace(/:$/, '');
    if (!schemes.includes(scheme)) throw new Error(`${name}: scheme must be one of ${schemes.join(', ')}, got '${scheme}'`);
    return s;
  };
}

/**
 * A rule across variables: returns the problem (one line naming the variables) or undefined. It sees only the
 * variables that parsed; a rule whose inputs are missing stays silent (their own problem is reported already).
 */
export type Rule = (c: Readonly<Record<string, unknown>>) => string | undefined;

/** `a <= b` (or `a < b` with strict), both numbers. */
export function atMost(a: string, b: string, opts: { strict?: boolean; factor?: number; why?: string } = {}): Rule {
  return (c) => {
    const x = c[a];
    const y = c[b];
    if (typeof x !== 'number' || typeof y !== 'number') return undefined;
    const limit = y * (opts.factor ?? 1);
    const ok = opts.strict ? x < limit : x <= limit;
    if (ok) return undefined;
    const bound = opts.factor !== undefined && opts.factor !== 1 ? `${opts.factor} × ${b} (${limit})` : `${b} (${y})`;
    return `${a}: must be ${opts.strict ? 'below' : 'at most'} ${bound}, got ${x}${opts.why ? `: ${opts.why}` : ''}`;
  };
}

/** Parses every variable of `spec`, then checks `rules`; throws one ConfigError listing every problem. */
export function loadConfig<S extends Spec>(spec: S, env: Record<string, string | undefined>, rules: readonly Rule[] = []): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, parse] of Object.entries(spec)) {
    try {
      out[name] = parse(env[name], name);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  for (const rule of rules) {
    const problem = rule(out);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as ConfigOf<S>;
}

/**
 * Runs several config loaders and gathers every problem of all of them, once each: the all-in-one process and
 * `npm run check-config` report the edge's, presence's and relay's problems in one pass.
 */
export function collectConfig<T extends unknown[]>(loaders: { [K in keyof T]: () => T[K] }): T {
  const problems: string[] = [];
  const out: unknown[] = [];
  for (const load of loaders) {
    try {
      out.push(load());
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) if (!problems.includes(p)) problems.push(p);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as T;
}

/** Hides the password of a URL for logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@');
}

/** A printable copy of a config: URLs without passwords, secret-looking names masked. */
export function printable(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (/TOKEN|PASSWORD|SECRET|DSN/.test(k)) out[k] = v === undefined ? undefined : '***';
    else if (typeof v === 'string' && k.endsWith('_URL')) out[k] = redactUrl(v);
    else out[k] = v;
  }
  return out;
}
