/**
 * The Node flags `npm run start` / `npm run start:<service>` gives a service: package.json's scripts are their one
 * home (the young-generation cap differs per service). The deploy files must use the same (tests/deploy), and the
 * bench starts our processes with them (bench/lib/targets.ts).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PACKAGE = fileURLToPath(new URL('../../package.json', import.meta.url));

export function startFlags(service: string): string[] {
  const script = service === 'all-in-one' ? 'start' : `start:${service}`;
  const line = (JSON.parse(readFileSync(PACKAGE, 'utf8')) as { scripts: Record<string, string> }).scripts[script];
  if (line === undefined) throw new Error(`package.json has no "${script}" script`);
  const words = line.split(/\s+/);
  return words.slice(words.indexOf('node') + 1, words.indexOf('--import'));
}
