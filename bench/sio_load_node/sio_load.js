'use strict';
/*
 * bench/ws_load_node/ws_load.js over socket.io-client: the same job line, commands and replies,
 * so bench/gateway.py drives the Socket.IO peer (bench/socketio_peer/server.js) with the very
 * walks, pace, clocks and reconnect policy it drives the gateway with. Only the socket differs.
 *
 * - A job URL reads http://HOST:PORT/?walk=INVITATION&token=TOKEN: the walk goes in the
 *   handshake's query, the token in its `auth` (Socket.IO's place for credentials).
 * - WebSocket transport only, no HTTP long-polling first (a phone app on a modern network does
 *   the same; the gateway has no polling either), and Socket.IO's own reconnection off:
 *   ws_load.js reconnects every walker with the protocol's backoff, for both servers alike.
 * - Disconnect reasons read as close codes: "io server disconnect" (the peer's SIGTERM
 *   disconnects every socket, its "going away") as 1001, a lost transport as 1006, our own
 *   close as 1000. A refused handshake (bad token) fails the attempt as `connect:<message>`.
 *
 * Usage: node sio_load.js MAX_SECONDS, the job on the first stdin line.
 */

const { io } = require('socket.io-client');
const { main, CONNECT_TIMEOUT_MS } = require('../ws_load_node/ws_load.js');

const REASON_CODES = {
  'io server disconnect': 1001,
  'io client disconnect': 1000,
  'transport close': 1006,
  'transport error': 1006,
  'ping timeout': 1006,
  'parse error': 1006,
};

const sioTransport = {
  name: 'socket.io',
  open(url, on) {
    const target = new URL(url);
    const socket = io(target.origin, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: CONNECT_TIMEOUT_MS,
      perMessageDeflate: false,
      query: { walk: target.searchParams.get('walk') },
      auth: { token: target.searchParams.get('token') },
    });
    let ended = false;
    const end = (code) => {
      if (ended) return;
      ended = true;
      on.close(code);
    };
    socket.on('connect', () => on.open());
    socket.on('hello', (body) => on.message({ ...body, type: 'hello' }));
    socket.on('location', (body) => on.message(body));
    // Without reconnection, a failed handshake ends this socket for good.
    socket.on('connect_error', (err) => {
      on.error(err.message);
      end(1006);
    });
    socket.on('disconnect', (reason) => end(REASON_CODES[reason] ?? reason));
    return {
      get isOpen() {
        return socket.connected;
      },
      sendLocation(location) {
        socket.emit('location', location);
      },
      close() {
        if (socket.connected) socket.disconnect();
        else if (!ended) {
          socket.disconnect();
          end(1000);
        }
      },
      abort() {
        this.close();
      },
    };
  },
};

main(sioTransport);
