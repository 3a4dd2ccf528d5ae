'use strict';
/*
 * The peer the gateway is measured against (issue 23): the walk-together relay written the way an
 * app team in this ecosystem would, with Socket.IO 4 and @socket.io/redis-adapter (ioredis), one
 * process an instance, every instance on the same Redis. bench/gateway.py runs two and drives
 * them with bench/sio_load_node/sio_load.js: the same walks, pace and clocks as the gateway's.
 *
 * - A walker connects with its invitation id in the handshake's query (`walk`) and its access
 *   token in `auth.token`; the token is checked once, at connect (HS256, JWT_SECRET, `sub` = the
 *   user id): a bad one refuses the handshake. No database: the gateway also checks that the
 *   invitation is accepted and the user one of its two partners, so this peer does less work.
 * - The walker joins the room named by its invitation id and is told `hello` ({interval_s: 5}),
 *   the moment ws_load counts as admitted, as with the gateway.
 * - Each `location` goes to the rest of the room, `{user_id, lat, lng, timestamp}`, through the
 *   Redis adapter (partners on different instances meet there). No rate limit, no last-location
 *   store, no presence: the plain relay the Socket.IO documentation leads to.
 * - SIGTERM disconnects every socket (the client reads "io server disconnect", this peer's
 *   "going away") and exits, as a deploy would stop it.
 * - GET /healthz answers 200 (bench/procs.py's wait_http).
 *
 * Environment: REALTIME_PORT, HOST (default 127.0.0.1), REDIS_URL, JWT_SECRET.
 */

const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const Redis = require('ioredis');
const jwt = require('jsonwebtoken');

const INTERVAL_S = 5;
const SHUTDOWN_WAIT_MS = 10000;

function main() {
  const port = Number(process.env.REALTIME_PORT || 8102);
  const host = process.env.HOST || '127.0.0.1';
  const secret = process.env.JWT_SECRET;
  if (!secret) throw new Error('JWT_SECRET is not set');

  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
    } else if (!req.url.startsWith('/socket.io/')) {
      res.writeHead(404);
      res.end();
    }
  });
  const pub = new Redis(process.env.REDIS_URL);
  const sub = pub.duplicate();
  const io = new Server(server, { serveClient: false });
  io.adapter(createAdapter(pub, sub));

  io.use((socket, next) => {
    const { walk } = socket.handshake.query;
    const token = socket.handshake.auth && socket.handshake.auth.token;
    if (typeof walk !== 'string' || !walk || typeof token !== 'string') {
      next(new Error('missing walk or token'));
      return;
    }
    try {
      const claims = jwt.verify(token, secret, { algorithms: ['HS256'] });
      socket.data.userId = claims.sub;
      socket.data.walk = walk;
      next();
    } catch {
      next(new Error('invalid token'));
    }
  });

  io.on('connection', (socket) => {
    const { walk, userId } = socket.data;
    socket.join(walk);
    socket.emit('hello', { user_id: userId, interval_s: INTERVAL_S });
    socket.on('location', (location) => {
      if (location === null || typeof location !== 'object') return;
      socket.to(walk).emit('location', {
        user_id: userId,
        lat: location.lat,
        lng: location.lng,
        timestamp: location.timestamp ?? Date.now() / 1000,
      });
    });
  });

  // `io.local`: with the Redis adapter, io.disconnectSockets() would disconnect every instance's
  // sockets. The disconnect packets flush before the server closes (io.close() alone drops the
  // connections, which the client reads as a lost transport).
  process.on('SIGTERM', () => {
    io.local.disconnectSockets(true);
    const started = Date.now();
    const drained = setInterval(() => {
      if (io.engine.clientsCount > 0 && Date.now() - started < SHUTDOWN_WAIT_MS) return;
      clearInterval(drained);
      io.close(() => {
        pub.disconnect();
        sub.disconnect();
        process.exit(0);
      });
    }, 50);
  });
  server.listen(port, host);
}

main();
