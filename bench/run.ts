/**
 * qchat-server load bench. `npm run bench` runs the standard set against the two baselines, our all-in-one
 * server and our full stack, prints one JSON line per scenario run and appends a dated section to
 * bench/results.md. `npm run bench -- <storm|fanout|hold> [options]` runs one scenario (see --help).
 * Loopback only; every child is killed by PID at the end, on error and on Ctrl-C; a watchdog bounds the sitting.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { gitCommit, machineFacts, openFilesLimit, waitForQuietBox } from './lib/machine';
import { killAllNow, stopAll } from './lib/procs';
import { appendResults, jsonLine, markdownSection, paramsLine, table, BASELINE } from './lib/report';
import {
  REPO, TARGET_KINDS, benchLogDir, channelOf, externalTarget, startAllInOne, startBaseline, startStack, type Target, type TargetKind,
} from './lib/targets';
import { gischatMissing, startGischat } from './lib/gischat';
import { SCENARIOS, fdProblem, type Ctx, type FigureSpec, type ScenarioName, type ScenarioResult } from './scenarios/common';
import { bigframe, bigframeFigures, type BigframeOptions } from './scenarios/bigframe';
import { quiz, quizChannels, quizFigures, type QuizOptions } from './scenarios/quiz';
import { fanout, fanoutFigures, type FanoutOptions } from './scenarios/fanout';
import { hold, holdChannels, holdFigures, type HoldOptions } from './scenarios/hold';
import { storm, stormFigures, type StormOptions } from './scenarios/storm';

const USAGE = `usage:
  npm run bench                                   standard set → stdout JSON lines + bench/results.md
  npm run bench -- storm  [--clients 2000] [--inflight 256]
  npm run bench -- fanout [--receivers 1000] [--senders 24] [--rate N] [--duration 10]
                          [--step-seconds 4] [--start-rate 100000/R] [--max-rate 51200] [--slo-p99 500] [--pad 34]
  npm run bench -- hold   [--clients 5000] [--seconds 20] [--channel-size 250] [--channels a,b,…]
  npm run bench -- quiz   [--quiz-start-n 100] [--quiz-max-n 6400] [--quiz-rounds 8] [--quiz-seconds 240]
                          [--quiz-join-seconds 10] [--quiz-window-seconds 5] [--quiz-slo-p99 1000] [--quiz-workers 0]
  npm run bench -- bigframe [--receivers 1000] [--frames 3] [--image-bytes 2000000]
  (--scenario NAME is the same as the positional NAME; --target is the same as --targets)
common options:
  --url ws://127.0.0.1:PORT[/channel/NAME/ws]   an external server (repeat --url for several edges: receivers split)
  --pid PID                 the external server's PID (repeatable): RSS from /proc, CPU accounting, fd limit check
  --no-baseline             with --url: do not also run the tuned baseline for the ratios
  --targets a,b             started targets: tuned,naive,qchat-aio,qchat-stack,qchat-stack-2edge,gischat,gischat-2w
                            (gischat: npm run setup:gischat first; skipped with one line when missing)
  --channel NAME            channel for storm/fanout (default bench)
  --write                   also append a single-scenario sitting to bench/results.md
  --max-minutes M           watchdog for the whole sitting (default 20; 75 for the standard set)
  --calm-wait S             before each run, wait up to S s (default 30) for other jobs to leave the CPU < 25% busy
Loopback only. The client workers and the servers inherit this shell's open-file limit (ulimit -n).`;

const RESULTS = fileURLToPath(new URL('./results.md', import.meta.url));
const STANDARD_TARGETS: TargetKind[] = ['tuned', 'naive', 'qchat-aio', 'qchat-stack'];
/** The standard set's targets per scenario (the quiz is the headline against gischat). */
const STANDARD_BY_SCENARIO: Record<ScenarioName, TargetKind[]> = {
  storm: STANDARD_TARGETS,
  fanout: [...STANDARD_TARGETS, 'qchat-stack-2edge'],
  hold: [...STANDARD_TARGETS, 'qchat-stack-2edge'],
  quiz: ['tuned', 'qchat-aio', 'qchat-stack-2edge', 'gischat', 'gischat-2w'],
  bigframe: ['tuned', 'qchat-aio', 'qchat-stack-2edge'],
};
const SPECS: Record<ScenarioName, FigureSpec[]> = {
  storm: stormFigures, fanout: fanoutFigures, hold: holdFigures, quiz: quizFigures, bigframe: bigframeFigures,
};

function say(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function num(v: string | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a non-negative number, got '${v}'`);
  return n;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string', multiple: true },
      pid: { type: 'string', multiple: true },
      'no-baseline': { type: 'boolean' },
      targets: { type: 'string' },
      channel: { type: 'string' },
      channels: { type: 'string' },
      clients: { type: 'string' },
      inflight: { type: 'string' },
      receivers: { type: 'string' },
      senders: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      'step-seconds': { type: 'string' },
      'start-rate': { type: 'string' },
      'max-rate': { type: 'string' },
      'slo-p99': { type: 'string' },
      pad: { type: 'string' },
      seconds: { type: 'string' },
      'channel-size': { type: 'string' },
      write: { type: 'boolean' },
      'max-minutes': { type: 'string' },
      'calm-wait': { type: 'string' },
      scenario: { type: 'string' },
      target: { type: 'string' },
      'quiz-start-n': { type: 'string' },
      'quiz-max-n': { type: 'string' },
      'quiz-rounds': { type: 'string' },
      'quiz-seconds': { type: 'string' },
      'quiz-join-seconds': { type: 'string' },
      'quiz-window-seconds': { type: 'string' },
      'quiz-slo-p99': { type: 'string' },
      'quiz-workers': { type: 'string' },
      frames: { type: 'string' },
      'image-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const scenarioArg = (values.scenario ?? positionals[0]) as ScenarioName | undefined;
  if (scenarioArg !== undefined && !SCENARIOS.includes(scenarioArg)) {
    throw new Error(`unknown scenario '${scenarioArg}'\n${USAGE}`);
  }
  const standard = scenarioArg === undefined;
  const scenarios: ScenarioName[] = standard ? SCENARIOS : [scenarioArg];

  const urls = values.url ?? [];
  const pids = (values.pid ?? []).map((p) => num(p, 0, 'pid'));
  const urlChannel = urls.length > 0 ? channelOf(urls[0]!) : undefined;
  const channel = values.channel ?? urlChannel ?? 'bench';

  const stormOpts: StormOptions = {
    clients: num(values.clients, 2000, 'clients'),
    channel,
    inflight: num(values.inflight, 256, 'inflight'),
    timeoutSeconds: 120,
  };
  const fanoutOpts: FanoutOptions = {
    receivers: num(values.receivers, 1000, 'receivers'),
    senders: Math.max(1, num(values.senders, 24, 'senders')),
    channel,
    rate: values.rate === undefined ? undefined : num(values.rate, 0, 'rate'),
    durationSeconds: num(values.duration, 10, 'duration'),
    stepSeconds: num(values['step-seconds'], 4, 'step-seconds'),
    // About 100,000 deliveries/s for the first step, whatever R.
    startRate: num(values['start-rate'], Math.max(1, Math.round(100_000 / Math.max(1, num(values.receivers, 1000, 'receivers')))), 'start-rate'),
    maxRate: num(values['max-rate'], 51_200, 'max-rate'),
    sloP99Ms: num(values['slo-p99'], 500, 'slo-p99'),
    pad: num(values.pad, 34, 'pad'),
  };
  const holdN = num(values.clients, 5000, 'clients');
  const channelSize = Math.max(1, num(values['channel-size'], 250, 'channel-size'));
  const holdOpts: HoldOptions = {
    clients: holdN,
    seconds: num(values.seconds, 20, 'seconds'),
    channels: values.channels ? values.channels.split(',').map((s) => s.trim()).filter(Boolean)
      : urlChannel ? [urlChannel] : holdChannels(holdN, channelSize),
    channelSize: values.channels || urlChannel ? Math.ceil(holdN / Math.max(1, (values.channels?.split(',').length ?? 1))) : channelSize,
    inflight: num(values.inflight, 256, 'inflight'),
  };
  if (urlChannel && scenarios.includes('hold') && !values.channels) {
    say(`hold: the URL names channel '${urlChannel}': all ${holdN} sockets go there (every connect broadcasts nb_users to all: N²/2 frames). `
      + 'Use --channels a,b,c (channels the server knows) to spread them.');
  }
  if (urls.length > 0 && scenarios.includes('hold') && !values.channels && !urlChannel) {
    say(`hold: sockets go to channels ${holdOpts.channels[0]}..${holdOpts.channels.at(-1)} (${channelSize} each): our server refuses channels `
      + 'missing from its CHANNELS (HTTP 403), so start it with them or pass --channels a,b,c');
  }
  const quizOpts: QuizOptions = {
    startN: Math.max(2, num(values['quiz-start-n'], 100, 'quiz-start-n')),
    maxN: Math.max(2, num(values['quiz-max-n'], 6400, 'quiz-max-n')),
    maxRounds: Math.max(1, num(values['quiz-rounds'], 8, 'quiz-rounds')),
    maxSeconds: num(values['quiz-seconds'], 240, 'quiz-seconds'),
    joinSeconds: num(values['quiz-join-seconds'], 10, 'quiz-join-seconds'),
    windowSeconds: num(values['quiz-window-seconds'], 5, 'quiz-window-seconds'),
    sloP99Ms: num(values['quiz-slo-p99'], 1000, 'quiz-slo-p99'),
    workers: num(values['quiz-workers'], 0, 'quiz-workers'),
  };
  const bigOpts: BigframeOptions = {
    receivers: num(values.receivers, 1000, 'receivers'),
    frames: Math.max(1, num(values.frames, 3, 'frames')),
    imageBytes: num(values['image-bytes'], 2_000_000, 'image-bytes'),
    channel,
  };
  // The servers only accept the channels they are configured with: the storm/fanout/bigframe channel, the hold
  // channels and the quiz rounds' channels.
  const qchatChannels = [...new Set([channel, ...holdOpts.channels, ...quizChannels(quizOpts.maxRounds)])];

  const facts = machineFacts();
  const { commit, dirty } = gitCommit(REPO);
  const files = openFilesLimit();
  say(`machine: ${facts.cpuModel}, ${facts.nproc} cores, ${facts.totalMemMiB} MiB, load ${facts.loadavgAtStart.join(' ')}, commit ${commit}${dirty ? '+dirty' : ''}`);
  say(`open-file limit: soft ${files.soft}, hard ${files.hard} (clients are split over worker processes; each server process holds all of its sockets)`);
  say(`server logs: ${benchLogDir()}`);

  type Plan = { scenario: ScenarioName; kind: TargetKind };
  const plan: Plan[] = [];
  const listed = (values.targets ?? values.target)?.split(',').map((s) => s.trim()).filter(Boolean) as TargetKind[] | undefined;
  for (const scenario of scenarios) {
    let kinds: TargetKind[];
    if (urls.length > 0) kinds = values['no-baseline'] ? ['external'] : ['tuned', 'external'];
    else if (listed) kinds = listed;
    else kinds = STANDARD_BY_SCENARIO[scenario];
    if (listed && !kinds.includes('tuned') && urls.length === 0) say(`note: tuned is not among the targets: no ratios for ${scenario}`);
    for (const kind of kinds) plan.push({ scenario, kind });
  }
  for (const k of plan.map((p) => p.kind)) {
    if (!TARGET_KINDS.includes(k)) throw new Error(`unknown target '${k}'`);
  }

  const started = Date.now();
  const results: ScenarioResult[] = [];
  const skipped: string[] = [];
  for (const { scenario, kind } of plan) {
    const sockets = scenario === 'storm' ? stormOpts.clients : scenario === 'hold' ? holdOpts.clients
      : scenario === 'quiz' ? quizOpts.maxN : scenario === 'bigframe' ? bigOpts.receivers + 1 : fanoutOpts.receivers + fanoutOpts.senders;
    const missing = kind === 'gischat' || kind === 'gischat-2w' ? gischatMissing() : null;
    if (missing) {
      say(`SKIPPED ${scenario} on ${kind}: ${missing}`);
      skipped.push(`${scenario} on ${kind}: ${missing}`);
      continue;
    }
    const perServer = kind === 'qchat-stack-2edge' ? Math.ceil(sockets / 2) : sockets;
    const fd = kind === 'external' ? (pids.length > 0 ? fdProblem(perServer, pids[0]) : null) : fdProblem(perServer);
    if (fd && kind !== 'external') {
      say(`SKIPPED ${scenario} on ${kind}: ${fd}`);
      skipped.push(`${scenario} on ${kind}: ${fd}`);
      continue;
    }
    if (fd) say(`WARNING: ${fd}`);
    if (sockets > facts.ephemeralPorts - 500) say(`WARNING: ${sockets} sockets to one address:port is close to the ${facts.ephemeralPorts} ephemeral ports`);
    say(`── ${scenario} on ${kind} ──`);
    let target: Target | undefined;
    const calm = await waitForQuietBox(25, num(values['calm-wait'], 30, 'calm-wait'), say);
    try {
      target = kind === 'external' ? externalTarget(urls, pids[0])
        : kind === 'tuned' || kind === 'naive' ? await startBaseline(kind, { inspect: scenario === 'hold' })
          : kind === 'qchat-aio' ? await startAllInOne(qchatChannels, { inspect: scenario === 'hold' })
            : kind === 'gischat' || kind === 'gischat-2w' ? await startGischat(qchatChannels, kind === 'gischat' ? 1 : 2)
              : await startStack(qchatChannels, kind === 'qchat-stack-2edge' ? 2 : 1, { inspect: scenario === 'hold' });
      if (kind === 'external' && pids.length > 1) {
        target.rssPids.push(...pids.slice(1));
        target.memProcs.push(...pids.slice(1).map((pid) => ({ kind: 'server' as const, pid })));
      }
      const ctx: Ctx = { target, say };
      // gischat may never converge: its storm ends after 60 s rather than 120.
      const gischat = kind === 'gischat' || kind === 'gischat-2w';
      const result = scenario === 'storm' ? await storm(ctx, gischat ? { ...stormOpts, timeoutSeconds: Math.min(60, stormOpts.timeoutSeconds) } : stormOpts)
        : scenario === 'fanout' ? await fanout(ctx, fanoutOpts)
          : scenario === 'quiz' ? await quiz(ctx, quizOpts)
            : scenario === 'bigframe' ? await bigframe(ctx, bigOpts)
              : await hold(ctx, holdOpts);
      result.load.busyBeforePct = calm.busyPct;
      result.load.waitedForCalmS = calm.waitedS;
      results.push(result);
      const tuned = results.find((x) => x.scenario === scenario && x.target === BASELINE);
      process.stdout.write(`${jsonLine(result, tuned, { commit })}\n`);
      for (const n of result.notes) say(`  note: ${n}`);
    } catch (err) {
      const msg = (err as Error).message;
      say(`FAILED ${scenario} on ${kind}: ${msg}`);
      skipped.push(`${scenario} on ${kind} failed: ${msg.split('\n')[0]}`);
    } finally {
      await target?.stop().catch(() => undefined);
    }
  }

  for (const scenario of scenarios) {
    const rs = results.filter((x) => x.scenario === scenario);
    if (rs.length === 0) continue;
    process.stderr.write(`\n${scenario}: ${paramsLine(rs[0]!)}\n${table(SPECS[scenario], rs)}\n`);
  }
  if (standard || values.write) {
    const la = os.loadavg().map((v) => Math.round(v * 100) / 100) as [number, number, number];
    const section = markdownSection({
      title: `${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC${standard ? ' — standard set' : ` — ${scenarioArg}`}`,
      facts, commit, dirty, command: `npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      logDir: benchLogDir(), loadEnd: la, durationS: (Date.now() - started) / 1000, results, skipped, specs: SPECS,
    });
    appendResults(RESULTS, section);
    say(`appended to ${RESULTS}`);
  }
  return results.length > 0 ? 0 : 1;
}

let stopping = false;
async function shutdown(code: number, why?: string): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (why) say(why);
    await stopAll(3000).catch(() => undefined);
  }
  killAllNow();
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(130, 'interrupted: stopping every child by PID'));
process.on('SIGTERM', () => void shutdown(143, 'terminated: stopping every child by PID'));
process.on('exit', () => killAllNow());
process.on('uncaughtException', (err) => void shutdown(1, `uncaught: ${err.stack ?? err.message}`));
process.on('unhandledRejection', (err) => void shutdown(1, `unhandled rejection: ${(err as Error)?.stack ?? String(err)}`));

const maxMinutes = (() => {
  const i = process.argv.indexOf('--max-minutes');
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  if (Number.isFinite(v) && v > 0) return v;
  // The standard set (no scenario named) runs five scenarios, the quiz against five targets of up to 4 min each.
  const named = process.argv.slice(2).some((a) => a === '--scenario' || (SCENARIOS as string[]).includes(a));
  return named ? 20 : 75;
})();
const watchdog = setTimeout(() => void shutdown(3, `watchdog: the sitting passed ${maxMinutes} min; stopping`), maxMinutes * 60_000);

main().then(
  async (code) => {
    clearTimeout(watchdog);
    await shutdown(code);
  },
  async (err: unknown) => {
    clearTimeout(watchdog);
    await shutdown(2, `error: ${(err as Error).message}`);
  },
);
