import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'vitest';
import { nextTurn } from '../../src/pipeline/event-loop-turns.js';

/** Blocks the thread, as a request's synchronous post-processing does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

async function connectedPair(server: net.Server): Promise<{ client: net.Socket; peer: net.Socket }> {
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  return { client, peer: await accepted };
}

test('callers resume in order, one per loop iteration, with socket reads let in between', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const trigger = await connectedPair(server);
  const probe = await connectedPair(server);
  const events: string[] = [];
  probe.peer.on('data', () => events.push('data'));
  try {
    // Run from a socket callback, as a batch's answer or a finished decode is: the poll phase.
    const resumed = new Promise<unknown>((resolve) => {
      trigger.peer.once('data', () => {
        // These bytes wait in the kernel until the loop next polls, like a health check's request.
        probe.client.write('GET /healthz');
        busy(20);
        resolve(
          Promise.all(
            [1, 2, 3].map((id) =>
              nextTurn().then(() => {
                events.push(`turn ${id}`);
                busy(5);
              }),
            ),
          ),
        );
      });
    });
    trigger.client.write('go');
    await resumed;
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(events, ['turn 1', 'data', 'turn 2', 'turn 3']);
  } finally {
    for (const socket of [trigger.client, trigger.peer, probe.client, probe.peer]) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a caller arriving after the others were resumed gets a turn of its own', async () => {
  const order: number[] = [];
  await Promise.all([nextTurn().then(() => order.push(1)), nextTurn().then(() => order.push(2))]);
  await nextTurn().then(() => order.push(3));
  assert.deepEqual(order, [1, 2, 3]);
});
