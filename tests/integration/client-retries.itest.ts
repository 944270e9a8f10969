/**
 * A client that sends a message again (the QChat plugin gives each message its own uuid4 `id`; a phone re-sends
 * after reconnecting, maybe to another edge) gets it published once: the edges derive the message id from the
 * channel and the client's id, and relay remembers published ids for a minute.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { is, startStack, type Stack } from '../support/stack';

describe('a message sent again with the same client id', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: inject('redisUrl'), natsUrl: inject('natsUrl'), edges: 2 });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('is published once, across edges and reconnects; other ids and other channels are not affected', async () => {
    const watcher = await stack.client(1, 'QGIS');
    await watcher.next(is('nb_users'));
    const clientId = randomUUID();
    const frame = { type: 'text', id: clientId, author: 'retrier', avatar: null, text: 'only once' };

    const first = await stack.client(0, 'QGIS');
    await first.next(is('nb_users'));
    first.send(frame);
    const echo = await first.next(is('text', (f) => f.text === 'only once'));
    expect(echo.id).not.toBe(clientId); // the broadcast id is the server's (D7)
    await first.close();

    // Reconnected, to the other edge this time, and sent again: nothing new is broadcast.
    const again = await stack.client(1, 'QGIS');
    again.send(frame);
    again.send({ ...frame, id: randomUUID(), text: 'a new message' });
    await again.next(is('text', (f) => f.text === 'a new message'));
    const copies = watcher.frames.filter(is('text', (f) => f.text === 'only once'));
    expect(copies).toHaveLength(1);
    expect(copies[0].id).toBe(echo.id);
    await watcher.expectNone(is('text', (f) => f.text === 'only once' && f.id !== echo.id), 500);
    expect(again.frames.filter(is('uncompliant'))).toEqual([]);

    // The same client id in another channel is another message.
    const elsewhere = await stack.client(0, 'Geotribu');
    await elsewhere.next(is('nb_users'));
    elsewhere.send(frame);
    expect(await elsewhere.next(is('text', (f) => f.text === 'only once'))).toMatchObject({ author: 'retrier' });
  });
});
