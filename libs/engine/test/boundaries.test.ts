/**
 * The boundaries docs/architecture.md claims: the engine is the only door to Redis (no file outside libs/engine
 * imports ioredis, tests included), libs/bus is NATS only, libs/protocol does no I/O, a service reaches another only
 * through the requester (only the all-in-one process imports services), and service code has no escape casts.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const SKIP = new Set(['node_modules', 'dist', '.git']);
const ENGINE = join(ROOT, 'libs', 'engine');

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (SKIP.has(name) || path === ENGINE) continue;
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|mts|mjs|js)$/.test(name)) out.push(path);
  }
  return out;
}

describe('engine boundary', () => {
  it('no file outside libs/engine imports ioredis', () => {
    const files = ['libs', 'services', 'tests', 'bench', 'scripts'].flatMap((d) => sources(join(ROOT, d)));
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.filter((f) => /from ['"]ioredis['"]|import\(['"]ioredis['"]\)|require\(['"]ioredis['"]\)/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });
});

/** Module specifiers of a file's import statements, export-from statements and dynamic imports. */
const IMPORTS = [
  /^import\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  /^import\s*['"]([^'"]+)['"]/gm,
  /^export\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s*from\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];
const importsOf = (file: string) => {
  const text = readFileSync(file, 'utf8');
  return IMPORTS.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!));
};
const inDir = (dir: string) => sources(join(ROOT, dir)).filter((f) => !f.includes(`${join('/', 'test', '/')}`));

describe('service and library boundaries', () => {
  it('libs/bus speaks NATS only; libs/protocol imports no I/O library', () => {
    const bus = inDir('libs/bus/src').flatMap((f) => importsOf(f).map((i) => `${relative(ROOT, f)}: ${i}`));
    expect(bus.length).toBeGreaterThan(5);
    expect(bus.filter((i) => /: (ioredis|@qchat\/engine\/|redis)/.test(i))).toEqual([]);
    const protocol = inDir('libs/protocol/src').flatMap((f) => importsOf(f).map((i) => `${relative(ROOT, f)}: ${i}`));
    expect(protocol.filter((i) => !/: (\.{1,2}\/|node:crypto$|node:buffer$)/.test(i))).toEqual([]);
  });

  it('a service imports no other service (only all-in-one runs them side by side)', () => {
    const services = ['edge', 'presence', 'relay', 'bridge'];
    const offenders = services.flatMap((svc) => inDir(`services/${svc}/src`).flatMap((f) => importsOf(f)
      .filter((i) => services.some((other) => other !== svc && (i === `@qchat/${other}` || i.includes(`services/${other}/`) || i.includes(`../${other}/`))))
      .map((i) => `${relative(ROOT, f)}: ${i}`)));
    expect(offenders).toEqual([]);
  });

  it('service code has no `as unknown as` and no `never` casts', () => {
    const files = ['edge', 'presence', 'relay', 'bridge', 'all-in-one'].flatMap((svc) => inDir(`services/${svc}/src`));
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.filter((f) => /as unknown as|as never\b|:\s*never\)/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });
});
