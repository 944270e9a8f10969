/** Frames from the channel topics are untrusted: ToMatrix carries them to Matrix only within relay's own limits. */
import { DEFAULT_LIMITS } from '@qchat/protocol';
import { silentLogger } from '@qchat/runtime';
import { describe, expect, it } from 'vitest';
import type { MatrixClient } from '@qchat/matrix';
import type { Outbox } from '../src/outbox';
import { createEngine } from '@qchat/engine';
import { ToMatrix } from '../src/to-matrix';

function setup() {
  const jobs: string[] = [];
  // The outbox only records what it would send: nothing here reaches a homeserver.
  const outbox = { push: (job: { txnId: string }) => { jobs.push(job.txnId); } } as unknown as Outbox;
  const t = new ToMatrix({
    config: {
      INSTANCE_ID: 'qchat', limits: DEFAULT_LIMITS, MATRIX_PING_MESSAGE_PREFIX: '@matrixping', MATRIX_PING_ROOMID: undefined,
      MATRIX_BRIDGE: new Map([['QGIS', '!room:hs']]), MATRIX_BRIDGE_AUTHOR_SUFFIX: '[m]',
    },
    state: createEngine({ kind: 'memory', instance: 'qchat', edgeTtlMs: 10_000 }, silentLogger(), 'test').bridge.state,
    ping: undefined,
    bridge: { client: {} as MatrixClient, outbox },
    log: silentLogger(),
  });
  return { t, jobs };
}

const frame = (id: string, extra: object) => JSON.stringify({ id, timestamp: 1, author: 'jane_doe', avatar: null, ...extra });

describe('ToMatrix bounds', () => {
  it('carries a text and an image at their limits, and drops one past each', async () => {
    const { t, jobs } = setup();
    await t.handle('QGIS', frame('t-at', { type: 'text', text: 'a'.repeat(DEFAULT_LIMITS.maxMessageLength) }));
    await t.handle('QGIS', frame('t-over', { type: 'text', text: 'a'.repeat(DEFAULT_LIMITS.maxMessageLength + 1) }));
    await t.handle('QGIS', frame('i-at', { type: 'image', image_data: 'A'.repeat(DEFAULT_LIMITS.maxImageRawLength) }));
    await t.handle('QGIS', frame('i-over', { type: 'image', image_data: 'A'.repeat(DEFAULT_LIMITS.maxImageRawLength + 1) }));
    await t.handle('QGIS', frame('x'.repeat(65), { type: 'text', text: 'long id' }));
    expect(jobs).toEqual(['qchat-t-at', 'qchat-i-at']);
  });
});
