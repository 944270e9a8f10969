/** Messages between the bench parent and its client workers (IPC, JSON). Times are nowMs() values. */
import type { Aggregate, HistogramJSON } from '../lib/stats';

export interface OpenCmd {
  cmd: 'open';
  tag: string;
  /** ws://127.0.0.1:PORT bases; client i uses bases[i % bases.length]. */
  bases: string[];
  /** Client i joins channels[floor(i / channelBlock) % channels.length]. */
  channels: string[];
  channelBlock: number;
  /** Global client indexes [from, from + count). */
  from: number;
  count: number;
  /** When set, each client registers right after open as `${nickPrefix}${i}`. */
  nickPrefix: string | null;
  /** Connection attempts in flight at once in this worker. */
  inflight: number;
  handshakeTimeoutMs: number;
  /** Reconnect only the clients of this tag that are not open (fanout top-up). */
  topUp?: boolean;
  /**
   * Paced joins (quiz): client i starts connecting at startAt + (i − spreadFrom) × spreadMs / spreadOf (nowMs()
   * time), whatever the number in flight; `inflight` is then ignored.
   */
  spread?: { startAt: number; spreadMs: number; of: number };
}
export interface OpenResult {
  attempted: number;
  opened: number;
  failed: number;
  errors: Record<string, number>;
  connect: HistogramJSON;
  startedAt: number;
  endedAt: number;
}

export interface WaitCmd {
  cmd: 'wait';
  tag: string;
  nbAtLeast: number;
  registered: boolean;
  quietMs: number;
  timeoutMs: number;
}
export interface WaitResult {
  satisfied: boolean;
  open: number;
  missingNb: number;
  missingReg: number;
  /** Latest time at which a client first saw its highest nb_users value (>= nbAtLeast). */
  nbReachedMax: number;
  /** Clients whose last nb_users frame is not the highest they saw (count went backwards on screen). */
  nbLastBelowMax: number;
  nbMaxSeen: number;
  registration: HistogramJSON;
  regRefused: number;
  uncompliant: Record<string, number>;
  frames: Aggregate;
  closes: Record<string, number>;
}

export interface TrackCmd { cmd: 'track'; tag: string; run: number; senders: number; maxPerSender: number }

export interface SendCmd {
  cmd: 'send';
  tag: string;
  run: number;
  /** Messages per second summed over this worker's clients of the tag. */
  rate: number;
  durationMs: number;
  /** Extra characters appended to each text (realistic message size). */
  pad: number;
  /** Global sender index of this worker's first sender (senders are numbered 0..S-1 across workers). */
  senderBase: number;
}
export interface SendResult {
  sent: number;
  skippedBackpressure: number;
  senders: number;
  startedAt: number;
  endedAt: number;
  maxBufferedBytes: number;
}

export interface CollectCmd { cmd: 'collect'; tag: string; run: number; expectedPerReceiver: number; quietMs: number; maxWaitMs: number }
export interface CollectResult {
  receivers: number;
  complete: number;
  unique: number;
  duplicates: number;
  outOfOrder: number;
  unexpected: number;
  latency: HistogramJSON;
  early: HistogramJSON;
  late: HistogramJSON;
  firstAt: number;
  lastAt: number;
  closedDuringRun: number;
  closes: Record<string, number>;
  uncompliant: Record<string, number>;
}

/**
 * Quiz answers: every open registered client of the tag sends one text `b:<run>:<client index>:0:<t>` at a
 * random moment of [startAt, startAt + windowMs) (nowMs() time; seeded per client so a round is repeatable).
 */
export interface AnswerCmd { cmd: 'answer'; tag: string; run: number; startAt: number; windowMs: number; seed: number }
export interface AnswerResult { sent: number; skippedClosed: number; lateMsMax: number; startedAt: number; endedAt: number }

/** Big frames: forget earlier arrivals of frames of at least `minBytes` (the next one is the one measured). */
export interface BigArmCmd { cmd: 'bigarm'; tag: string; minBytes: number }
/** The sender: one message (a prebuilt JSON text) from its first open client; answers when it was handed to the socket. */
export interface BigSendCmd { cmd: 'bigsend'; tag: string; frame: string }
export interface BigSendResult { sentAt: number; bytes: number }
/** Receivers: wait until every open client got a big frame (or timeoutMs), times relative to sentAt. */
export interface BigCollectCmd { cmd: 'bigcollect'; tag: string; sentAt: number; timeoutMs: number; quietMs: number }
export interface BigCollectResult { receivers: number; got: number; latency: HistogramJSON; lastAt: number; bytesMin: number; bytesMax: number }

export interface QuietCmd { cmd: 'quiet'; quietMs: number; timeoutMs: number }
export interface QuietResult { quiet: boolean; waitedMs: number }

export interface StatusCmd { cmd: 'status'; tag: string }
export interface StatusResult { total: number; open: number; closes: Record<string, number>; frames: number; uncompliant: Record<string, number> }

export interface CloseCmd { cmd: 'close'; tag: string }
export interface CloseResult { closed: number }

export type Command = OpenCmd | WaitCmd | TrackCmd | SendCmd | CollectCmd | QuietCmd | StatusCmd | CloseCmd | AnswerCmd | BigArmCmd | BigSendCmd | BigCollectCmd;
export interface Results {
  open: OpenResult;
  wait: WaitResult;
  track: { receivers: number };
  send: SendResult;
  collect: CollectResult;
  quiet: QuietResult;
  status: StatusResult;
  close: CloseResult;
  answer: AnswerResult;
  bigarm: { armed: number };
  bigsend: BigSendResult;
  bigcollect: BigCollectResult;
}

export type Request = Command & { id: number };
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
