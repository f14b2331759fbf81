/**
 * Connections over node:http (native-free) (the scenario is in connections.ts; one file per
 * transport so that the two run side by side).
 */
import { describe, it } from 'vitest';
import { TRANSPORTS } from '../server/helpers.js';
import { connectionScenario, silentConnection, slowButFine, unreadAnswer, websocketLimit } from './connections.js';

const transport = TRANSPORTS[1] as (typeof TRANSPORTS)[number];

describe(`connections over ${transport.name}`, () => {
  it('300 idle connections, 20 header and 20 body dribblers, 10 partial WebSocket frames, a pipeliner and a WebSocket that never read: the good client is served throughout, each bad one is closed', async () => {
    await connectionScenario(transport);
  }, 90_000);

  it('refuses WebSockets beyond max_websockets with 503; broken handshakes hold no place', async () => {
    await websocketLimit(transport);
  });

  it('serves a slow body that arrives within request_timeout', async () => {
    await slowButFine(transport);
  });

  it('counts a connection that never sends a byte as idle and closes it without an answer, also when request_timeout is the shorter', async () => {
    await silentConnection(transport);
  });

  it('closes a connection whose large answer is not read, after idle_timeout', async () => {
    await unreadAnswer(transport);
  });
});
