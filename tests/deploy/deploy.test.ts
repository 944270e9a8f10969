/**
 * Static checks of the deployment files (no Docker, no cluster): they parse, they only set variables the
 * receiving service reads, probes and scrape targets hit the ports the services really listen on, and every
 * metric the alerts and the dashboard use exists.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { createRegistry, loadConfig, registerDependencyGauge, type Registry } from '@qchat/runtime';
import { callMetrics, servedMetrics } from '@qchat/bus';
import { edgeSpec } from '../../services/edge/src/config';
import { createEdgeMetrics } from '../../services/edge/src/metrics';
import { presenceSpec } from '../../services/presence/src/config';
import { createPresenceMetrics } from '../../services/presence/src/metrics';
import { relaySpec } from '../../services/relay/src/config';
import { bridgeSpec } from '../../services/bridge/src/config';
import { createBridgeMetrics } from '../../services/bridge/src/metrics';
import { createMatrixEdgeMetrics } from '../../services/edge/src/matrix/metrics';
import { createRelayMetrics } from '../../services/relay/src/metrics';
import { startFlags } from '../support/node-flags';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');

/** How a built service is started: the Node flags of its `npm run start:<service>` script, then its bundle. */
const nodeCommand = (service: string): string[] => ['node', ...startFlags(service), `dist/${service}.mjs`];

// ---------------------------------------------------------------- services, their variables and ports

type Service = 'edge' | 'presence' | 'relay' | 'bridge' | 'all-in-one';
type Env = Record<string, string>;
type Spec = Parameters<typeof loadConfig>[0];

const SPECS: Record<Service, Spec[]> = {
  edge: [edgeSpec],
  presence: [presenceSpec],
  relay: [relaySpec],
  bridge: [bridgeSpec],
  'all-in-one': [edgeSpec, presenceSpec, relaySpec, bridgeSpec],
};
/** Read by node or npm, not by our config loader. */
const RUNTIME_VARS = new Set(['NODE_ENV']);

function knownVars(service: Service): Set<string> {
  return new Set([...SPECS[service].flatMap((s) => Object.keys(s)), ...RUNTIME_VARS]);
}

/** Parses env with every spec of the service (throws on a bad value), so defaults apply as they would at runtime. */
function configOf(service: Service, env: Env): Record<string, unknown> {
  return Object.assign({}, ...SPECS[service].map((s) => loadConfig(s, env)));
}

/** The ops port: /healthz, /readyz and /metrics (every service; the edge's is off its public port). */
function opsPort(service: Service, env: Env): number {
  return Number(configOf(service, env).METRICS_PORT);
}

/** The public HTTP and WebSocket port of an edge. */
function publicPort(env: Env): number {
  return Number(configOf('edge', env).PORT);
}

/** Ports that answer /healthz and /readyz: the ops port, and an edge's public port too. */
function probePorts(service: Service, env: Env): number[] {
  return service === 'edge' || service === 'all-in-one' ? [publicPort(env), opsPort(service, env)] : [opsPort(service, env)];
}

function serviceOfCommand(args: unknown): Service | undefined {
  if (!Array.isArray(args)) return undefined;
  for (const a of args) {
    const m = /^(?:\.\/)?dist\/([a-z-]+)\.mjs$/.exec(String(a));
    if (m) return m[1] as Service;
  }
  return undefined;
}

// ---------------------------------------------------------------- build entries

const BUILD_SCRIPT = 'scripts/build.mjs';
const hasBuildScript = existsSync(join(ROOT, BUILD_SCRIPT));

/**
 * dist/<name>.mjs names scripts/build.mjs produces: a `SERVICES = ['edge', ...]` list of entry names, literal
 * dist/<name>.mjs outputs, or the services/<name>/src/main.ts files it bundles.
 */
function buildEntries(): Set<string> {
  const src = read(BUILD_SCRIPT);
  const names = new Set<string>();
  const list = /\b(?:SERVICES|ENTRIES|entries|services)\s*=\s*\[([^\]]*)\]/.exec(src);
  if (list) for (const m of list[1]!.matchAll(/['"]([a-z][a-z0-9-]*)['"]/g)) names.add(m[1]!);
  for (const m of src.matchAll(/dist\/([a-z][a-z0-9-]*)\.mjs/g)) names.add(m[1]!);
  for (const m of src.matchAll(/services\/([a-z][a-z0-9-]*)\/src\/main\.ts/g)) names.add(m[1]!);
  for (const m of src.matchAll(/['"]([a-z][a-z0-9-]*)['"]\s*:\s*['"][^'"]*services\/[^'"]*main\.ts['"]/g)) names.add(m[1]!);
  if (names.size === 0 && /main\.ts/.test(src) && /readdir/.test(src)) {
    // Entries discovered at build time from services/*/src/main.ts.
    for (const d of readdirSync(join(ROOT, 'services'))) if (existsSync(join(ROOT, 'services', d, 'src/main.ts'))) names.add(d);
  }
  return names;
}

// ---------------------------------------------------------------- YAML helpers

/** docker compose interpolation: ${VAR:-default} / ${VAR-default} take the default, ${VAR} becomes empty. */
function interpolate(text: string): string {
  return text.replace(/\$\{([A-Za-z0-9_]+)(?::?-([^}]*))?\}/g, (_m, _name: string, def?: string) => def ?? '');
}

type Obj = Record<string, any>;

function loadYaml(rel: string, opts: { interpolate?: boolean } = {}): Obj {
  const text = opts.interpolate ? interpolate(read(rel)) : read(rel);
  return parse(text, { merge: true, prettyErrors: true }) as Obj;
}

function loadYamlDocs(rel: string): Obj[] {
  const docs = parseAllDocuments(read(rel), { merge: true, prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${rel}: empty stream`);
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${rel}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  }).filter((d) => d !== null);
}

function envOf(environment: unknown): Env {
  if (environment === undefined || environment === null) return {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(environment.map((e) => {
      const s = String(e);
      const i = s.indexOf('=');
      return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(environment as Obj).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function seconds(duration: unknown): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(duration));
  if (!m) throw new Error(`not a duration: ${String(duration)}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : m[2] === 'h' ? n * 3600 : n;
}

// ---------------------------------------------------------------- compose

const COMPOSE = 'docker-compose.yml';
const DOCKERFILE = 'deploy/Dockerfile';

interface ComposeQchat { name: string; service: Service; env: Env; def: Obj }

function composeFile(): Obj {
  return loadYaml(COMPOSE, { interpolate: true });
}

function composeQchat(compose: Obj): ComposeQchat[] {
  const out: ComposeQchat[] = [];
  for (const [name, def] of Object.entries(compose.services as Obj)) {
    const built = def.build?.dockerfile === DOCKERFILE;
    if (!built) continue;
    const service = serviceOfCommand(def.command) ?? 'edge'; // the image's default CMD
    out.push({ name, service, env: envOf(def.environment), def });
  }
  return out;
}

/** `test: [CMD, ...]` of a healthcheck → the http://host:port/path it fetches. */
function healthUrl(test: unknown): URL | undefined {
  const text = Array.isArray(test) ? test.join(' ') : String(test);
  const m = /https?:\/\/[^'"\s)]+/.exec(text);
  return m ? new URL(m[0]) : undefined;
}

// ---------------------------------------------------------------- Kubernetes

const K8S_DIR = 'deploy/k8s';

/** Examples (`*.example.yaml`) are documentation, never applied: the Secret is created once by the operator. */
const isExample = (f: string) => f.endsWith('.example.yaml');

function k8sDocs(opts: { examples?: boolean } = {}): { file: string; doc: Obj }[] {
  return readdirSync(join(ROOT, K8S_DIR))
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && (opts.examples || !isExample(f)))
    .sort()
    .flatMap((file) => loadYamlDocs(posix.join(K8S_DIR, file)).map((doc) => ({ file, doc })));
}

function byKind(docs: { doc: Obj }[], kind: string): Obj[] {
  return docs.map((d) => d.doc).filter((d) => d.kind === kind);
}

interface K8sEnv { env: Env; sources: Map<string, string> }

/** Environment of a container: envFrom ConfigMaps / Secrets (must exist here) and env (fieldRef values get a stand-in). */
function containerEnv(container: Obj, docs: Obj[]): K8sEnv {
  const env: Env = {};
  const sources = new Map<string, string>();
  for (const from of (container.envFrom ?? []) as Obj[]) {
    const ref = from.configMapRef ?? from.secretRef;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    const doc = docs.find((d) => d.kind === kind && d.metadata?.name === ref?.name);
    if (!doc) throw new Error(`${container.name}: envFrom ${kind} ${String(ref?.name)} is not defined in ${K8S_DIR}`);
    const data: Obj = { ...(doc.data ?? {}), ...(doc.stringData ?? {}) };
    for (const [k, v] of Object.entries(data)) {
      env[k] = String(v);
      sources.set(k, `${kind} ${String(ref.name)}`);
    }
  }
  for (const e of (container.env ?? []) as Obj[]) {
    env[e.name as string] = e.value !== undefined ? String(e.value) : `from-${Object.keys(e.valueFrom ?? {}).join('-') || 'nothing'}`;
    sources.set(e.name as string, 'env');
  }
  return { env, sources };
}

function containerPortOf(container: Obj, port: unknown): number {
  if (typeof port === 'number') return port;
  const named = ((container.ports ?? []) as Obj[]).find((p) => p.name === port);
  if (!named) throw new Error(`${container.name}: no container port named ${String(port)}`);
  return Number(named.containerPort);
}

function preStopSleepSeconds(container: Obj): number {
  const pre = container.lifecycle?.preStop;
  if (!pre) return 0;
  if (pre.sleep?.seconds !== undefined) return Number(pre.sleep.seconds);
  const cmd = ((pre.exec?.command ?? []) as unknown[]).map(String);
  const i = cmd.findIndex((c) => /(^|\/)sleep$/.test(c));
  return i >= 0 ? Number(cmd[i + 1] ?? 0) : 0;
}

// ---------------------------------------------------------------- metrics

/** Series names the services export: their own metrics, prom-client defaults, histogram/summary series. */
async function knownMetricNames(): Promise<Set<string>> {
  const names = new Set<string>(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
  const up = { ready: () => true };
  const bus = (registry: Registry) => { callMetrics(registry); servedMetrics(registry); };
  const registries = [createEdgeMetrics, createPresenceMetrics, createRelayMetrics, createBridgeMetrics, createMatrixEdgeMetrics, bus].map((create) => {
    const registry = createRegistry('deploy-test'); // with prom-client's default metrics, as every service
    registerDependencyGauge(registry, { engine: up, requester: up });
    create(registry);
    return registry;
  });
  for (const registry of registries) {
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      const type = String(m.type);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) names.add(m.name + s);
    }
  }
  return names;
}

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'Inf', 'NaN']);

/** Metric names in a PromQL expression (label matchers, ranges, grouping clauses and functions removed). */
function metricNamesIn(expr: string): string[] {
  const s = expr
    .replace(/label_values\(\s*([^,()]+?(?:\{[^}]*\})?)\s*,[^)]*\)/g, ' $1 ')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of s.matchAll(/(?<![\w:$.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    if (!PROMQL_WORDS.has(m[1]!)) out.push(m[1]!);
  }
  return out;
}

function dashboardExprs(dashboard: Obj): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const visit = (panels: Obj[]) => {
    for (const p of panels) {
      for (const t of (p.targets ?? []) as Obj[]) if (typeof t.expr === 'string') out.push({ where: `panel "${String(p.title)}"`, expr: t.expr });
      if (Array.isArray(p.panels)) visit(p.panels as Obj[]);
    }
  };
  visit((dashboard.panels ?? []) as Obj[]);
  for (const v of (dashboard.templating?.list ?? []) as Obj[]) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (typeof q === 'string') out.push({ where: `variable $${String(v.name)}`, expr: q });
  }
  return out;
}

// ================================================================ tests

describe('deploy files parse', () => {
  it('docker-compose.yml, prometheus, alerts and grafana provisioning are YAML; the dashboard is JSON', () => {
    expect(composeFile().services).toBeTypeOf('object');
    for (const rel of [
      'deploy/prometheus/prometheus.yml',
      'deploy/prometheus/alerts.yml',
      'deploy/grafana/provisioning/datasources/prometheus.yml',
      'deploy/grafana/provisioning/dashboards/qchat.yml',
      `${K8S_DIR}/kustomization.yaml`,
    ]) {
      expect(loadYaml(rel), rel).toBeTypeOf('object');
    }
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/qchat.json')) as Obj;
    expect(dashboard.uid).toBeTypeOf('string');
    expect(dashboard.panels.length).toBeGreaterThan(0);
  });

  it('every deploy/k8s/*.yaml document is a Kubernetes object, in the kustomization and its namespace', () => {
    const docs = k8sDocs();
    expect(docs.length).toBeGreaterThan(0);
    const kustomization = loadYaml(`${K8S_DIR}/kustomization.yaml`);
    const files = readdirSync(join(ROOT, K8S_DIR)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml' && !isExample(f)).sort();
    expect([...(kustomization.resources as string[])].sort()).toEqual(files);
    for (const { file, doc } of docs) {
      expect(doc.apiVersion, file).toBeTypeOf('string');
      expect(doc.kind, file).toBeTypeOf('string');
      expect(doc.metadata?.name, file).toBeTypeOf('string');
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, `${file} ${String(doc.metadata.name)}`).toBe(kustomization.namespace);
    }
    expect(byKind(docs, 'Namespace').map((n) => n.metadata.name)).toContain(kustomization.namespace);
  });
});

describe('docker-compose.yml', () => {
  const compose = composeFile();
  const qchat = composeQchat(compose);

  it('runs presence, relay, the bridge and two edges from deploy/Dockerfile, each with a built entry point', () => {
    expect(qchat.map((s) => `${s.name}:${s.service}`).sort()).toEqual(['bridge:bridge', 'edge1:edge', 'edge2:edge', 'presence:presence', 'relay:relay']);
    for (const s of qchat) {
      expect(s.def.command, s.name).toEqual(nodeCommand(s.service));
      expect(existsSync(join(ROOT, 'services', s.service, 'src/main.ts')), `services/${s.service}/src/main.ts`).toBe(true);
    }
    expect(new Set(qchat.map((s) => s.def.image)).size).toBe(1);
  });

  it.skipIf(!hasBuildScript)('its commands point at dist/<service>.mjs files that scripts/build.mjs produces', () => {
    const entries = buildEntries();
    for (const s of qchat) expect([...entries], `${s.name}: dist/${s.service}.mjs`).toContain(s.service);
    // The image's default CMD and the documented entry points too.
    for (const name of ['edge', 'presence', 'relay', 'all-in-one']) expect([...entries], `dist/${name}.mjs`).toContain(name);
  });

  it('sets only variables the receiving service reads, with valid values, one INSTANCE_ID and both brokers', () => {
    for (const s of qchat) {
      const known = knownVars(s.service);
      for (const k of Object.keys(s.env)) expect(known.has(k), `${s.name} sets ${k}, unknown to the ${s.service} config`).toBe(true);
      expect(() => configOf(s.service, s.env), s.name).not.toThrow();
      expect(s.env.REDIS_URL, `${s.name} REDIS_URL`).toMatch(/^rediss?:\/\/redis:6379/);
      expect(s.env.NATS_URL, `${s.name} NATS_URL`).toMatch(/^nats:\/\/nats:4222/);
    }
    expect(new Set(qchat.map((s) => configOf(s.service, s.env).INSTANCE_ID)).size).toBe(1);
    const edgeIds = qchat.filter((s) => s.service === 'edge' && s.env.EDGE_ID).map((s) => s.env.EDGE_ID);
    expect(new Set(edgeIds).size).toBe(edgeIds.length);
  });

  it('checks readiness on the port each service listens on, and waits for healthy dependencies', () => {
    for (const s of qchat) {
      const url = healthUrl(s.def.healthcheck?.test);
      expect(url, `${s.name} healthcheck`).toBeDefined();
      expect(url!.pathname, s.name).toBe('/readyz');
      expect(probePorts(s.service, s.env), `${s.name} healthcheck port`).toContain(Number(url!.port));
      expect(seconds(s.def.stop_grace_period ?? '10s'), `${s.name} stop_grace_period > SHUTDOWN_TIMEOUT_MS`)
        .toBeGreaterThan(Number(configOf(s.service, s.env).SHUTDOWN_TIMEOUT_MS) / 1000);
      for (const dep of ['redis', 'nats']) expect(s.def.depends_on?.[dep]?.condition, `${s.name} -> ${dep}`).toBe('service_healthy');
    }
    for (const [name, def] of Object.entries(compose.services as Obj)) {
      for (const [dep, cond] of Object.entries((Array.isArray(def.depends_on) ? {} : def.depends_on ?? {}) as Obj)) {
        expect(compose.services[dep], `${name} depends on ${dep}`).toBeDefined();
        if (cond?.condition === 'service_healthy') expect(compose.services[dep].healthcheck, `${dep} has a healthcheck`).toBeDefined();
      }
    }
    expect(String(compose.services.nats.command)).toMatch(/-m,?\s*8222/);
  });

  it('puts a WebSocket-capable nginx in front of both edges on host port 8000', () => {
    const proxy = Object.values(compose.services as Obj).find((d) => String(d.image).startsWith('nginx'));
    expect(proxy).toBeDefined();
    expect((proxy!.ports as string[]).map(String)).toContain('8000:8000');
    expect((proxy!.volumes as string[]).some((v) => v.startsWith('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf'))).toBe(true);
    const conf = read('deploy/nginx/nginx.conf');
    const upstream = /upstream\s+(\w+)\s*\{([^}]*)\}/.exec(conf);
    expect(upstream).not.toBeNull();
    const servers = [...upstream![2]!.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map((m) => [m[1]!, Number(m[2])] as const);
    const edges = qchat.filter((s) => s.service === 'edge');
    expect(servers.map(([h]) => h).sort()).toEqual(edges.map((e) => e.name).sort());
    for (const [host, port] of servers) {
      const e = edges.find((s) => s.name === host)!;
      expect(port, host).toBe(publicPort(e.env));
    }
    expect(conf).toContain(`proxy_pass http://${upstream![1]!}`);
    expect(conf).toMatch(/proxy_http_version\s+1\.1;/);
    expect(conf).toMatch(/proxy_set_header\s+Upgrade\s+\$http_upgrade;/);
    expect(conf).toMatch(/proxy_set_header\s+Connection\s+\$connection_upgrade;/);
    expect(conf).toMatch(/proxy_read_timeout\s+86400s;/);
  });

  it('Prometheus scrapes every qchat service on its metrics port, by compose service name', () => {
    const prom = loadYaml('deploy/prometheus/prometheus.yml');
    const targets = (prom.scrape_configs as Obj[])
      .filter((j) => String(j.job_name).startsWith('qchat-'))
      .flatMap((j) => (j.static_configs as Obj[]).flatMap((c) => c.targets as string[]).map((t) => ({ job: String(j.job_name), t, path: j.metrics_path ?? '/metrics' })));
    for (const { job, t, path } of targets) {
      const [host, port] = t.split(':');
      const s = qchat.find((q) => q.name === host);
      expect(s, `${job} target ${t} is a compose service`).toBeDefined();
      expect(Number(port), `${t} port`).toBe(opsPort(s!.service, s!.env));
      expect(job, t).toBe(`qchat-${s!.service}`);
      expect(path).toBe('/metrics');
    }
    expect(targets.map((x) => x.t.split(':')[0]).sort()).toEqual(qchat.map((s) => s.name).sort());
    for (const f of prom.rule_files as string[]) expect(existsSync(join(ROOT, 'deploy/prometheus', f)), f).toBe(true);
    const promService = compose.services.prometheus;
    expect((promService.volumes as string[]).some((v) => v.startsWith('./deploy/prometheus:/etc/prometheus'))).toBe(true);
  });

  it('Grafana is provisioned with the Prometheus datasource and the dashboard folder compose mounts', () => {
    const grafana = compose.services.grafana;
    const mounts = new Map((grafana.volumes as string[]).map((v) => { const [src, dst] = v.split(':'); return [src!, dst!] as const; }));
    expect(mounts.get('./deploy/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const providers = loadYaml('deploy/grafana/provisioning/dashboards/qchat.yml').providers as Obj[];
    expect(providers.map((p) => p.options?.path)).toContain(mounts.get('./deploy/grafana/dashboards'));
    const datasources = loadYaml('deploy/grafana/provisioning/datasources/prometheus.yml').datasources as Obj[];
    const url = new URL(String(datasources.find((d) => d.type === 'prometheus')?.url));
    expect(compose.services[url.hostname], `datasource host ${url.hostname}`).toBeDefined();
    expect(url.port).toBe('9090');
  });
});

describe('deploy/Dockerfile', () => {
  const lines = read(DOCKERFILE).replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: string[][] = [];
  for (const l of lines) {
    if (/^FROM\s/i.test(l)) stages.push([]);
    stages.at(-1)?.push(l);
  }
  const runtime = stages.at(-1) ?? [];
  const workdir = runtime.filter((l) => /^WORKDIR\s/.test(l)).at(-1)?.split(/\s+/)[1] ?? '/';

  it('builds in one node:20-bookworm-slim stage and runs in another as user node, edge by default', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s[0]).toMatch(/^FROM node:20-bookworm-slim\b/);
    expect(stages[0]!.some((l) => /npm ci\b/.test(l))).toBe(true);
    expect(stages[0]!.some((l) => /npm run build\b/.test(l))).toBe(true);
    expect(runtime.some((l) => /npm ci\b.*--omit=dev/.test(l))).toBe(true);
    expect(runtime).toContain('USER node');
    expect(runtime).toContain('ENV NODE_ENV=production');
    expect(runtime.find((l) => l.startsWith('EXPOSE'))?.split(/\s+/).slice(1).sort()).toEqual(['8000', '9100', '9101', '9102']);
    expect(runtime.some((l) => /^HEALTHCHECK .*\/healthz/.test(l))).toBe(true);
    expect(runtime.at(-1)).toBe(`CMD ${JSON.stringify(nodeCommand('edge')).replace(/","/g, '", "')}`);
  });

  it('copies every workspace manifest before each npm ci (npm ci needs them all)', () => {
    const manifests = ['libs', 'services'].flatMap((d) => readdirSync(join(ROOT, d))
      .filter((w) => existsSync(join(ROOT, d, w, 'package.json')))
      .map((w) => `${d}/${w}/package.json`));
    for (const [i, stage] of stages.entries()) {
      const ci = stage.findIndex((l) => /npm ci\b/.test(l));
      const copies = stage.slice(0, ci).filter((l) => l.startsWith('COPY ')).join('\n');
      for (const m of manifests) expect(copies, `stage ${i} copies ${m}`).toContain(m);
    }
  });

  it('copies the web page to where the bundled edge looks for it', () => {
    const rel = /new URL\('([^']+)', import\.meta\.url\)/.exec(read('services/edge/src/http/pages.ts'))?.[1];
    expect(rel, 'pages.ts locates index.html relative to import.meta.url').toBeDefined();
    // Both bundles that serve the page (edge, all-in-one) sit in <WORKDIR>/dist/.
    const wanted = new URL(rel!, `file://${posix.join(workdir, 'dist', 'edge.mjs')}`).pathname;
    const copies = runtime.filter((l) => /^COPY\s+(?!--from)\S*services\/edge\/public\/?\s/.test(l)).map((l) => posix.resolve(workdir, l.split(/\s+/).at(-1)!));
    expect(copies, `COPY services/edge/public to ${posix.dirname(wanted)}`).toContain(posix.dirname(wanted));
    expect(runtime.some((l) => /^COPY --from=\S+ \S*\/dist\/? \.?\/?dist\/?$/.test(l) || /^COPY --from=\S+ \S*dist\S* \S*dist/.test(l))).toBe(true);
  });

  it('.dockerignore keeps node_modules, dist and .git out but not what the build needs', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', '.git', 'bench/out', 'coverage']) expect(ignored, p).toContain(p);
    for (const needed of ['package-lock.json', 'scripts', 'services', 'libs', 'services/edge/public']) expect(ignored, needed).not.toContain(needed);
  });
});

describe('deploy/k8s', () => {
  const docs = k8sDocs();
  // The Secret the operator creates (secret.example.yaml shows it) is part of what the containers receive.
  const all = k8sDocs({ examples: true }).map((d) => d.doc);
  const deployments = byKind(docs, 'Deployment');
  const kustomization = loadYaml(`${K8S_DIR}/kustomization.yaml`);

  const containers = deployments.map((d) => {
    const list = d.spec.template.spec.containers as Obj[];
    expect(list, String(d.metadata.name)).toHaveLength(1);
    const c = list[0]!;
    const service = serviceOfCommand([...(c.command ?? []), ...(c.args ?? [])]) ?? 'edge';
    return { d, c, service, ...containerEnv(c, all) };
  });

  it('has one Deployment for each of edge, presence, relay and bridge, all with the same image', () => {
    expect(containers.map((x) => x.service).sort()).toEqual(['bridge', 'edge', 'presence', 'relay']);
    const images = new Set(containers.map((x) => String(x.c.image)));
    expect(images.size, [...images].join(', ')).toBe(1);
    const image = [...images][0]!;
    const name = image.replace(/@.*$/, '').replace(/:[^/:]+$/, '');
    expect((kustomization.images as Obj[] | undefined)?.map((i) => i.name), 'kustomization images: entry').toContain(name);
    for (const x of containers) expect(x.c.command ?? nodeCommand('edge'), String(x.d.metadata.name)).toEqual(nodeCommand(x.service));
  });

  it.skipIf(!hasBuildScript)('runs entry points scripts/build.mjs produces', () => {
    const entries = buildEntries();
    for (const x of containers) expect([...entries]).toContain(x.service);
  });

  it('gives each service only variables its config reads, with valid values (ConfigMaps, Secret, env)', () => {
    for (const x of containers) {
      const known = knownVars(x.service);
      for (const k of Object.keys(x.env)) expect(known.has(k), `${x.service} gets ${k} from ${x.sources.get(k)}, unknown to its config`).toBe(true);
      expect(() => configOf(x.service, x.env), x.service).not.toThrow();
    }
    const secrets: Record<string, string[]> = { 'qchat-backends': ['NATS_URL', 'REDIS_URL'], 'qchat-matrix': ['MATRIX_BRIDGE_TOKEN', 'MATRIX_PING_TOKEN'] };
    const found = all.filter((d) => d.kind === 'Secret');
    expect(found.map((s) => String(s.metadata.name)).sort()).toEqual(Object.keys(secrets).sort());
    for (const s of found) expect(Object.keys({ ...(s.data ?? {}), ...(s.stringData ?? {}) }).sort()).toEqual(secrets[String(s.metadata.name)]);
    expect(new Set(containers.map((x) => configOf(x.service, x.env).INSTANCE_ID)).size).toBe(1);
  });

  it('sets every non-secret variable of each service explicitly (add new config variables to configmap.yaml)', () => {
    // Unset on purpose: HOST listens on every interface; without ADMIN_TOKEN (a secret) the moderation API is off.
    const optional = new Set(['HOST', 'ADMIN_TOKEN']);
    for (const x of containers) {
      const missing = [...knownVars(x.service)].filter((k) => !RUNTIME_VARS.has(k) && !optional.has(k) && !(k in x.env));
      expect(missing, `${x.service}: not set in deploy/k8s`).toEqual([]);
    }
    const edge = containers.find((x) => x.service === 'edge')!;
    expect((edge.c.env as Obj[]).find((e) => e.name === 'EDGE_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    for (const x of containers) {
      expect(x.sources.get('REDIS_URL'), x.service).toMatch(/^Secret /);
      expect(x.sources.get('NATS_URL'), x.service).toMatch(/^Secret /);
    }
  });

  it('probes /healthz and /readyz, exposes and annotates the port each service listens on', () => {
    for (const x of containers) {
      const port = opsPort(x.service, x.env);
      const name = String(x.d.metadata.name);
      expect(x.c.livenessProbe?.httpGet?.path, `${name} liveness`).toBe('/healthz');
      expect(x.c.readinessProbe?.httpGet?.path, `${name} readiness`).toBe('/readyz');
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const get = x.c[probe]?.httpGet;
        if (get) expect(probePorts(x.service, x.env), `${name} ${probe} port`).toContain(containerPortOf(x.c, get.port));
      }
      expect(((x.c.ports ?? []) as Obj[]).map((p) => Number(p.containerPort))).toContain(port);
      const ann = (x.d.spec.template.metadata.annotations ?? {}) as Obj;
      expect(ann['prometheus.io/scrape'], name).toBe('true');
      expect(Number(ann['prometheus.io/port']), `${name} prometheus.io/port`).toBe(port);
      expect(ann['prometheus.io/path'], name).toBe('/metrics');
      const resources = x.c.resources ?? {};
      expect(resources.requests?.cpu, `${name} cpu request (the HPA needs it)`).toBeDefined();
      expect(resources.limits?.memory, `${name} memory limit`).toBeDefined();
    }
  });

  it('gives each pod more grace than preStop + SHUTDOWN_TIMEOUT_MS; edges sleep in preStop first', () => {
    for (const x of containers) {
      const grace = Number(x.d.spec.template.spec.terminationGracePeriodSeconds ?? 30);
      const needed = preStopSleepSeconds(x.c) + Number(configOf(x.service, x.env).SHUTDOWN_TIMEOUT_MS) / 1000;
      expect(grace, `${String(x.d.metadata.name)} terminationGracePeriodSeconds`).toBeGreaterThan(needed);
    }
    expect(preStopSleepSeconds(containers.find((x) => x.service === 'edge')!.c)).toBeGreaterThan(0);
  });

  it('has a Service per Deployment on the listening port, an HPA on edge CPU and PodDisruptionBudgets', () => {
    const services = byKind(docs, 'Service');
    for (const x of containers) {
      const podLabels = x.d.spec.template.metadata.labels as Obj;
      const matches = (sel: Obj | undefined) => sel !== undefined && Object.entries(sel).every(([k, v]) => podLabels[k] === v);
      expect(Object.entries(x.d.spec.selector.matchLabels as Obj).every(([k, v]) => podLabels[k] === v)).toBe(true);
      const svc = services.find((s) => matches(s.spec.selector));
      expect(svc, `Service for ${String(x.d.metadata.name)}`).toBeDefined();
      const targets = (svc!.spec.ports as Obj[]).map((p) => containerPortOf(x.c, p.targetPort ?? p.port));
      expect(targets).toContain(x.service === 'edge' ? publicPort(x.env) : opsPort(x.service, x.env));
      const pdb = byKind(docs, 'PodDisruptionBudget').find((p) => matches(p.spec.selector?.matchLabels));
      expect(pdb, `PodDisruptionBudget for ${String(x.d.metadata.name)}`).toBeDefined();
    }
    const hpa = byKind(docs, 'HorizontalPodAutoscaler');
    expect(hpa).toHaveLength(1);
    expect(hpa[0]!.apiVersion).toBe('autoscaling/v2');
    const edge = containers.find((x) => x.service === 'edge')!;
    expect(hpa[0]!.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: edge.d.metadata.name });
    expect((hpa[0]!.spec.metrics as Obj[]).some((m) => m.resource?.name === 'cpu')).toBe(true);
  });
});

describe('alerts and dashboard', () => {
  it('alerts.yml rules are complete and use existing metrics', async () => {
    const known = await knownMetricNames();
    const groups = loadYaml('deploy/prometheus/alerts.yml').groups as Obj[];
    const alerts: string[] = [];
    for (const g of groups) {
      for (const r of g.rules as Obj[]) {
        alerts.push(String(r.alert));
        expect(r.expr, String(r.alert)).toBeTypeOf('string');
        expect(['critical', 'warning', 'info'], `${String(r.alert)} severity`).toContain(r.labels?.severity);
        expect(r.annotations?.summary, String(r.alert)).toBeTypeOf('string');
        if (r.for !== undefined) expect(() => seconds(r.for)).not.toThrow();
        const names = metricNamesIn(String(r.expr));
        expect(names.length, `${String(r.alert)} uses a metric`).toBeGreaterThan(0);
        for (const n of names) expect(known.has(n), `${String(r.alert)}: metric ${n} does not exist`).toBe(true);
      }
    }
    expect(new Set(alerts).size).toBe(alerts.length);
    const exprs = groups.flatMap((g) => (g.rules as Obj[]).map((r) => String(r.expr))).join('\n');
    for (const m of [
      'up',
      'qchat_edge_broadcast_deliveries_total',
      'qchat_edge_connections',
      'qchat_edge_frames_received_total',
      'qchat_bus_request_duration_seconds_count',
      'qchat_presence_reclaimed_connections_total',
      'qchat_edge_slow_consumer_closes_total',
      'qchat_dependency_up',
    ]) expect(exprs, `an alert on ${m}`).toMatch(new RegExp(`\\b${m}\\b`));
  });

  it('the dashboard uses existing metrics only', async () => {
    const known = await knownMetricNames();
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/qchat.json')) as Obj;
    const exprs = dashboardExprs(dashboard);
    expect(exprs.length).toBeGreaterThan(10);
    for (const { where, expr } of exprs) {
      for (const n of metricNamesIn(expr)) expect(known.has(n), `${where}: metric ${n} does not exist`).toBe(true);
    }
    const used = new Set(exprs.flatMap((e) => metricNamesIn(e.expr)));
    for (const m of ['nodejs_eventloop_lag_seconds', 'process_resident_memory_bytes', 'qchat_relay_image_bytes_total', 'qchat_bus_handled_duration_seconds_count']) {
      expect(used.has(m), `dashboard shows ${m}`).toBe(true);
    }
  });

  it('finds metric names in PromQL', () => {
    expect(metricNamesIn('histogram_quantile(0.99, sum by (le, op) (rate(a_bucket{x="y"}[5m]))) > 0.5')).toEqual(['a_bucket']);
    expect(metricNamesIn('sum by (i) (rate(a[5m])) == 0 and on (i) b > 0 or vector(0)')).toEqual(['a', 'b']);
    expect(metricNamesIn('label_values(up{job=~"q.*"}, instance)')).toEqual(['up']);
    expect(metricNamesIn('rate(x{i=~"$instance"}[$__rate_interval])')).toEqual(['x']);
  });
});


// ================================================================ safe defaults

describe('hardening', () => {
  const compose = composeFile();
  const raw = parse(read(COMPOSE), { merge: true }) as Obj; // without interpolation: ${VAR:?...} stays visible

  it('compose pins every image version, publishes only nginx on all interfaces, and sets no default password', () => {
    for (const [name, def] of Object.entries(compose.services as Obj)) {
      if (def.build) continue;
      expect(String(def.image), `${name} image`).toMatch(/:v?\d+\.\d+\.\d+(-[a-z0-9]+)?$/);
      for (const p of (def.ports ?? []) as string[]) {
        if (name === 'proxy') continue;
        expect(String(p), `${name} publishes ${String(p)}`).toMatch(/^127\.0\.0\.1:/);
      }
    }
    const grafanaEnv = raw.services.grafana.environment as Obj;
    expect(String(grafanaEnv.GF_SECURITY_ADMIN_PASSWORD)).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/);
    const promArgs = (compose.services.prometheus.command as string[]).join(' ');
    expect(promArgs).not.toMatch(/--web\.enable-admin-api|--web\.enable-lifecycle/);
  });

  it('compose gives every container resource limits and rotated logs', () => {
    for (const [name, def] of Object.entries(compose.services as Obj)) {
      expect(def.deploy?.resources?.limits?.memory, `${name} memory limit`).toBeDefined();
      expect(def.deploy?.resources?.limits?.cpus, `${name} cpu limit`).toBeDefined();
      expect(def.logging?.options?.['max-size'], `${name} log rotation`).toBeDefined();
      expect(def.logging?.options?.['max-file'], `${name} log rotation`).toBeDefined();
    }
  });

  it('services reachable by Prometheus listen for metrics on all interfaces in containers; loopback is the default', () => {
    expect(configOf('presence', {}).METRICS_HOST).toBe('127.0.0.1');
    expect(configOf('edge', {}).METRICS_HOST).toBe('127.0.0.1');
    for (const s of composeQchat(compose)) expect(s.env.METRICS_HOST, s.name).toBe('0.0.0.0');
    for (const x of k8sContainers()) expect(x.env.METRICS_HOST, x.service).toBe('0.0.0.0');
  });

  it('the kustomization applies no Secret (it would overwrite the real one); secret.example.yaml shows it', () => {
    const kustomization = loadYaml(`${K8S_DIR}/kustomization.yaml`);
    const applied = (kustomization.resources as string[]).flatMap((f) => loadYamlDocs(posix.join(K8S_DIR, f)));
    expect(applied.filter((d) => d.kind === 'Secret')).toEqual([]);
    expect(kustomization.secretGenerator).toBeUndefined();
    const example = read(`${K8S_DIR}/secret.example.yaml`);
    expect(example).toMatch(/kubectl -n qchat create secret generic qchat-backends/);
  });
});

/** The Deployments' containers with their environment (the example Secret included). */
function k8sContainers(): { d: Obj; c: Obj; service: Service; env: Env }[] {
  const all = k8sDocs({ examples: true }).map((d) => d.doc);
  return all.filter((d) => d.kind === 'Deployment').map((d) => {
    const c = (d.spec.template.spec.containers as Obj[])[0]!;
    const service = serviceOfCommand([...(c.command ?? []), ...(c.args ?? [])]) ?? 'edge';
    return { d, c, service, env: containerEnv(c, all).env };
  });
}

/** Prometheus relabeling (keep, drop, replace) of one target's labels, as Prometheus applies it. */
function relabel(labels: Record<string, string>, configs: Obj[]): Record<string, string> | null {
  const out = { ...labels };
  for (const rc of configs) {
    const source = ((rc.source_labels ?? []) as string[]).map((l) => out[l] ?? '').join(rc.separator ?? ';');
    const re = new RegExp(`^(?:${String(rc.regex ?? '(.*)')})$`);
    const m = re.exec(source);
    const action = rc.action ?? 'replace';
    if (action === 'keep' && !m) return null;
    if (action === 'drop' && m) return null;
    if (action === 'replace' && m) {
      const value = String(rc.replacement ?? '$1').replace(/\$(\d+)|\$\{(\d+)\}/g, (_s, a: string, b: string) => m[Number(a ?? b)] ?? '');
      if (value === '') delete out[rc.target_label as string];
      else out[rc.target_label as string] = value;
    }
  }
  return out;
}

describe('deploy/prometheus/kubernetes.yml', () => {
  const config = loadYaml('deploy/prometheus/kubernetes.yml');
  const rules = loadYaml('deploy/prometheus/alerts.yml').groups as Obj[];
  const job = (config.scrape_configs as Obj[])[0]!;

  it('gives the Deployments of deploy/k8s the job names alerts.yml matches, on their ops port', () => {
    expect(config.rule_files).toEqual(['alerts.yml']);
    const sanitize = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, '_');
    const jobs: string[] = [];
    for (const x of k8sContainers()) {
      const meta = x.d.spec.template.metadata as Obj;
      const labels: Record<string, string> = { __address__: '10.0.0.7', __meta_kubernetes_pod_name: `${String(x.d.metadata.name)}-abc12`, job: String(job.job_name), __metrics_path__: '/metrics' };
      for (const [k, v] of Object.entries(meta.labels as Obj)) labels[`__meta_kubernetes_pod_label_${sanitize(k)}`] = String(v);
      for (const [k, v] of Object.entries((meta.annotations ?? {}) as Obj)) labels[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = String(v);
      const target = relabel(labels, job.relabel_configs as Obj[]);
      expect(target, String(x.d.metadata.name)).not.toBeNull();
      expect(target!.job).toBe(`qchat-${x.service}`);
      expect(target!.__address__).toBe(`10.0.0.7:${opsPort(x.service, x.env)}`);
      expect(target!.__metrics_path__).toBe('/metrics');
      expect(target!.instance).toMatch(/-abc12$/);
      jobs.push(target!.job!);
    }
    // Every job an alert names is produced.
    const named = new Set(rules.flatMap((g) => (g.rules as Obj[]).flatMap((r) => [...String(r.expr).matchAll(/job=~?"([^"]+)"/g)].map((m) => m[1]!))));
    expect(named.size).toBeGreaterThan(0);
    for (const pattern of named) expect(jobs.some((j) => new RegExp(`^(?:${pattern})$`).test(j)), `a job matches ${pattern}`).toBe(true);
    // A pod of something else in the namespace is not scraped as qchat.
    expect(relabel({ __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true', __meta_kubernetes_pod_label_app_kubernetes_io_part_of: 'redis' }, job.relabel_configs as Obj[])).toBeNull();
  });
});
