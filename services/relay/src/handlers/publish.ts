import { randomUUID } from 'node:crypto';
import { CHEAT_CODES, QChatError, encodeEnvelope, frameJson, nowSeconds, reasons, timeoutOf, type ChatBody, type RelayPublishReply, type RelayPublishRequest, type Route } from '@qchat/protocol';
import type { Claim, HistoryStore } from '@qchat/engine';
import type { Logger } from 'pino';
import type { RelayConfig } from '../config';
import type { RelayMetrics } from '../metrics';
import { transformImage, type DecodeLimits } from '../image';
import type { ImageQueue } from '../image-queue';

/** How long a message id is remembered, so a retried request is answered without publishing twice. */
const MARK_TTL_MS = 60_000;

export interface PublishDeps {
  config: Pick<RelayConfig, 'CHANNELS' | 'MAX_STORED_MESSAGES' | 'REQUEST_TIMEOUT_MS' | 'IMAGE_TIMEOUT_MS' | 'limits'>;
  /** The engine's history: commit stores and publishes in one step. */
  store: HistoryStore;
  /** Bounds image work: concurrency, queue length, deadline (see image-queue.ts). */
  images: ImageQueue;
  decodeLimits: DecodeLimits;
  metrics: RelayMetrics;
  log: Logger;
}

/** Stand-in result of a committed socket message (a JSON object, as the store requires of results). */
const NO_FRAME = '{}';

function resultOf(req: RelayPublishRequest, stored: string): string | null {
  return req.source === 'http' && stored !== NO_FRAME ? stored : null;
}

/** Cheat codes are broadcast but never replayed; likes are private and never stored (protocol.md §3.6, §6 D12). */
function storable(body: ChatBody): boolean {
  if (body.type === 'like') return false;
  return !(body.type === 'text' && CHEAT_CODES.has(body.text));
}

async function transform(body: ChatBody, deps: PublishDeps): Promise<ChatBody> {
  if (body.type !== 'image') return body;
  const { images, decodeLimits, config, metrics } = deps;
  const outcome = await images.run(() => transformImage(body.image_data, config.limits.maxImageSize, decodeLimits), config.IMAGE_TIMEOUT_MS);
  if (outcome.state !== 'done') {
    metrics.imagesRefused.inc({ reason: outcome.state });
    throw new QChatError('uncompliant', outcome.state === 'busy' ? reasons.imageBusy : reasons.imageTooSlow(config.IMAGE_TIMEOUT_MS));
  }
  const result = outcome.value;
  if (!result.ok) {
    metrics.imagesRefused.inc({ reason: result.reason === reasons.invalidImage ? 'invalid' : 'too_large' });
    throw new QChatError('uncompliant', result.reason);
  }
  deps.metrics.imageBytes.inc({ direction: 'in' }, result.bytesIn);
  deps.metrics.imageBytes.inc({ direction: 'out' }, result.bytesOut);
  return { ...body, image_data: result.data };
}

/**
 * relay.publish: transform, stamp, then store and publish in one commit (store first, so a joiner never misses a
 * message in both replay and live). A retry of a request whose attempt died or was given up (older than
 * REQUEST_TIMEOUT_MS, after which the edge retries) takes the message over; the commit lets only one attempt win.
 */
export function createPublishHandler(deps: PublishDeps) {
  return async (req: RelayPublishRequest): Promise<RelayPublishReply> => {
    const type = req.body.type;
    if (!deps.config.CHANNELS.includes(req.channel)) {
      throw new QChatError('channel_not_found', `Channel '${req.channel}' not registered`);
    }
    const owner = randomUUID();
    // The edge gives this attempt `budget` before retrying; a retry may take the message over only after that, and
    // this attempt never commits after it (the edge may have answered its client meanwhile).
    const budget = timeoutOf('relay.publish', req, { requestMs: deps.config.REQUEST_TIMEOUT_MS, imageMs: deps.config.IMAGE_TIMEOUT_MS });
    // Measured from receipt, which the edge's clock started before (the body travelled): keep a margin.
    const deadline = Date.now() + budget - deps.config.REQUEST_TIMEOUT_MS / 2;
    const claim = await claimOrUnavailable(deps, req.id, owner, budget);
    if (claim.state === 'done') {
      deps.metrics.processed.inc({ type, outcome: 'duplicate' });
      return { frame: resultOf(req, claim.frame) };
    }
    if (claim.state === 'pending') throw new QChatError('unavailable', 'message is still being processed');
    const end = deps.metrics.duration.startTimer({ type });
    try {
      const body = await transform(req.body, deps);
      const frame = frameJson(body, req.id, nowSeconds());
      const route: Route = body.type === 'like' ? { id: req.id, to: body.liked_author } : { id: req.id };
      const payload = encodeEnvelope(route, frame);
      const max = storable(body) ? deps.config.MAX_STORED_MESSAGES : 0;
      if (Date.now() > deadline) throw new QChatError('unavailable', 'message took longer than its budget; not published');
      // Only PUT answers with the frame; a socket's sender gets the broadcast echo, so a big image is not kept twice.
      const result = req.source === 'http' ? frame : NO_FRAME;
      const done = await deps.store.commit(req.id, owner, { channel: req.channel, frame, result, max, payload }, MARK_TTL_MS);
      if (done.state === 'lost') {
        // A retry took this message over (this attempt had been given up): its outcome is the message's.
        if (done.frame === null) throw new QChatError('unavailable', 'message is being processed by a retry');
        deps.metrics.processed.inc({ type, outcome: 'duplicate' });
        return { frame: resultOf(req, done.frame) };
      }
      deps.metrics.processed.inc({ type, outcome: 'published' });
      deps.metrics.publishedBytes.inc(payload.length);
      return { frame: resultOf(req, result) };
    } catch (err) {
      await deps.store.release(req.id, owner).catch(() => undefined);
      const uncompliant = err instanceof QChatError && err.code === 'uncompliant';
      deps.metrics.processed.inc({ type, outcome: uncompliant ? 'uncompliant' : 'error' });
      if (err instanceof QChatError) throw err;
      throw new QChatError('unavailable', 'message could not be stored or published', { cause: err });
    } finally {
      end();
    }
  };
}

/** A store that cannot be reached is a retryable failure, not an internal one. */
async function claimOrUnavailable(deps: PublishDeps, id: string, owner: string, staleMs: number): Promise<Claim> {
  try {
    return await deps.store.claim(id, MARK_TTL_MS, { owner, staleMs });
  } catch (err) {
    if (err instanceof QChatError) throw err;
    throw new QChatError('unavailable', 'message store unavailable', { cause: err });
  }
}
