/**
 * The alerting rules fire on the failures they name: `promtool test rules` on deploy/prometheus/alerts.test.yml
 * (hand-written series, one case per alert), and every alert has its runbook section in docs/runbooks.md and a line
 * in the README. tests/integration/operations-alerts.itest.ts runs the same rules over series recorded from a
 * real run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { promtool } from '../support/promtool';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');

type Rule = { alert: string; expr: string; annotations: Record<string, string> };
const rules = (parse(read('deploy/prometheus/alerts.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** GitHub's anchor of a Markdown heading. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

describe('alerting rules', () => {
  it('pass promtool check rules and the unit tests of alerts.test.yml', async () => {
    const check = await promtool(['check', 'rules', 'alerts.yml'], { cwd: join(ROOT, 'deploy/prometheus') });
    expect(check.code, check.output).toBe(0);
    const test = await promtool(['test', 'rules', 'alerts.test.yml'], { cwd: join(ROOT, 'deploy/prometheus') });
    expect(test.code, test.output).toBe(0);
    expect(test.output).toMatch(/SUCCESS/);
  });

  it('alerts.test.yml checks every alert firing', () => {
    const tests = read('deploy/prometheus/alerts.test.yml');
    // Either the ALERTS query names it, or an expected ALERTS sample carries its name.
    for (const r of rules) expect(tests, `a case where ${r.alert} fires`).toMatch(new RegExp(`ALERTS\\{alertname="${r.alert}", alertstate="firing"\\}|labels: '\\{alertname="${r.alert}"`));
  });

  it('every alert links its own runbook section in docs/runbooks.md, and the README lists it with the link', () => {
    const runbooks = read('docs/runbooks.md');
    const headings = new Set([...runbooks.matchAll(/^#{2,3} (.+)$/gm)].map((m) => anchor(m[1]!)));
    const readme = read('README.md');
    for (const r of rules) {
      const url = r.annotations.runbook_url;
      expect(url, `${r.alert} runbook_url`).toBe(`docs/runbooks.md#${r.alert.toLowerCase()}`);
      expect(headings.has(r.alert.toLowerCase()), `docs/runbooks.md has a section "## ${r.alert}"`).toBe(true);
      const section = runbooks.split(/^## /m).find((s) => s.startsWith(r.alert))!;
      expect(section, `${r.alert} runbook says what to check and what to do`).toMatch(/\*\*Check\*\*[\s\S]*\*\*Act\*\*/);
      expect(readme, `README lists ${r.alert} with its runbook link`).toContain(`[\`${r.alert}\`](docs/runbooks.md#${r.alert.toLowerCase()})`);
    }
  });
});
