/** The engine is the only door to Redis: no file outside libs/engine imports ioredis, tests included. */
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
