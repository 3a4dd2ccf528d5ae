'use strict';
/*
 * bench/ws_load.py ported to Node.js (`ws` with `bufferutil`): the same job line, commands and
 * replies, so bench/gateway.py drives either. Why: the load generator shares the two cores with
 * the gateway it measures, and the Python one took about twice the gateways' CPU (issue 15);
 * bench/RESULTS.md compares the two. ws_load.py's docstring is the protocol; what follows only
 * notes where this one differs.
 *
 * - One clock for latency, `performance.now()` (ms); `lng` carries the sequence number exactly as
 *   in ws_load.py (126 + seq / 1e6, read back with rounding).
 * - Times that bench/gateway.py compares with its own (`hello_at`, displaced and readmitted) are
 *   CLOCK_MONOTONIC seconds, Python's time.monotonic(): process.hrtime is read from the same clock.
 * - A send never waits: `ws` queues what the kernel does not take, where aiohttp's send_str waits
 *   for that one socket to drain (and holds up every later turn of the round).
 * - A connection lost without a close frame reads 1006 (aiohttp reports 1000 or 1006).
 * - The socket itself is a transport (`wsTransport` here): bench/sio_load_node/sio_load.js runs
 *   the same walks over socket.io-client by handing `serve` another one.
 *
 * Usage: node ws_load.js MAX_SECONDS, the job on the first stdin line. Nothing written (replies,
 * stderr) carries a URL: tokens stay out of the logs.
 */

const readline = require('node:readline');
const { performance } = require('node:perf_hooks');
const WebSocket = require('ws');

const LNG0 = 126.0;
const SEQ_SCALE = 1e6;
const GRACE_MS = 3000;
const CONNECT_TIMEOUT_MS = 30000;
const CLOSE_TIMEOUT_MS = 10000;
const SLOW_MS = 50.0; // locations slower than this are reported with their send time
const SEND_TICK_MS = 5;

const GOING_AWAY = 1001;
// After a 1001, a uniform random delay within one location interval (docs/realtime-protocol.md).
const GOING_AWAY_SPREAD_S = 5.0;
const BACKOFF_BASE_S = 1.0;
const BACKOFF_CAP_S = 30.0;
// 1006: the connection dropped without a close frame; 1011: the gateway's stores failed.
const RECONNECT_CODES = new Set([GOING_AWAY, 1006, 1011]);
const TOKEN = /token=[^&\s'"]+/g;

const redact = (text) => String(text).replace(TOKEN, 'token={token}');
const monotonic = () => Number(process.hrtime.bigint()) / 1e9;
const round = (value, digits) => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};
const count = (counter, key) => {
  counter[key] = (counter[key] || 0) + 1;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const uniform = (low, high) => low + Math.random() * (high - low);

/** The push worker's retry_delay (services/api/push_worker/backoff.py): equal jitter. */
function retryDelay(attempt, baseS, capS) {
  const ceiling = Math.min(capS, baseS * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + uniform(0, ceiling / 2);
}

/** asyncio.Event's part that is used here: set once, awaited by anyone. */
class Flag {
  constructor() {
    this.isSet = false;
    this.promise = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  set() {
    this.isSet = true;
    this.resolve();
  }
}

/** A float64 array that grows: one entry per sequence number. */
class Column {
  constructor(Type) {
    this.Type = Type;
    this.values = new Type(1 << 16);
    this.length = 0;
  }

  push(value) {
    if (this.length === this.values.length) {
      const grown = new this.Type(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
}

/**
 * A plain WebSocket (`ws`). A transport's `open(url, on)` starts one connection and returns it
 * (`isOpen`, `sendLocation(location, onSent)`, `close()` with a normal closure, `abort()`); it
 * calls `on.open()`, `on.message(body)` with each parsed frame (no `type`: a location),
 * `on.error(label)` and, once, `on.close(code)`.
 */
const wsTransport = {
  name: 'ws',
  open(url, on) {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      closeTimeout: CLOSE_TIMEOUT_MS,
      followRedirects: false,
    });
    ws.on('open', () => on.open());
    ws.on('message', (data, isBinary) => {
      if (!isBinary) on.message(JSON.parse(data));
    });
    ws.on('error', (err) => on.error(err.code || redact(err.message)));
    ws.on('close', (code) => on.close(code));
    return {
      get isOpen() {
        return ws.readyState === WebSocket.OPEN;
      },
      sendLocation(location, onSent) {
        ws.send(JSON.stringify({ type: 'location', ...location }), onSent);
      },
      close() {
        if (ws.readyState !== WebSocket.CLOSED) ws.close(1000);
      },
      abort() {
        ws.terminate();
      },
    };
  },
};

class Walker {
  constructor(url, fallback) {
    this.url = url;
    this.fallback = fallback;
    this.ws = null; // the transport's connection
    this.closed = Promise.resolve(); // settles when this.ws has closed (the reader's end)
    this.hello = new Flag();
    this.helloAt = 0; // monotonic() of the last hello (comparable across processes)
    this.newest = -1; // the highest seq this walker has received from its partner
    this.displacedAt = null;
    this.readmittedAt = null;
    this.reconnectAttempts = 0;
  }

  get open() {
    return this.ws !== null && this.ws.isOpen;
  }
}

class Load {
  /** `expectHello` false: a server that says no hello (the seed note's handler), the open
   * counts as one. */
  constructor(urls, fallbacks, concurrency, { transport = wsTransport, expectHello = true } = {}) {
    this.urls = urls;
    this.fallbacks = fallbacks;
    this.concurrency = concurrency;
    this.transport = transport;
    this.expectHello = expectHello;
    this.walkers = [];
    // Per sequence number: when it was sent, its latency once received (-1 before), and whether
    // its arrival was a newest-age sample.
    this.sendTimes = new Column(Float64Array);
    this.latencyMs = new Column(Float64Array);
    this.fresh = new Column(Uint8Array);
    this.closeCodes = {};
    this.kinds = {};
    this.sender = null;
    this.stopSending = false;
    this.sendErrors = 0;
    this.startedAt = 0; // performance.now() when the sender started: stall times are after it
    this.window = { firstSeq: 0, started: 0, sendErrors: 0 };
    this.closing = false;
    this.reconnects = new Set();
    this.wakeSleepers = new Set(); // reconnect back-offs, cut short by close
    this.handshakesMs = [];
    this.reconnectLagsMs = [];
    this.readmitted = new Set(); // resolvers, called at each readmission
    this.failedAttempts = 0;
    this.onSent = (err) => {
      if (err) this.sendErrors += 1;
    };
  }

  /** What ws_load.py's reader does with each frame. */
  onMessage(walker, hello, body) {
    const { sendTimes, latencyMs, fresh } = this;
    const kind = body.type === undefined ? 'location' : body.type;
    if (kind === 'location') {
      const seq = Math.round((body.lng - LNG0) * SEQ_SCALE);
      if (seq >= 0 && seq < sendTimes.length && latencyMs.values[seq] < 0) {
        latencyMs.values[seq] = performance.now() - sendTimes.values[seq];
        if (seq > walker.newest) {
          walker.newest = seq;
          fresh.values[seq] = 1;
        }
      }
    } else if (kind === 'hello') {
      walker.helloAt = monotonic();
      hello.set();
    }
    count(this.kinds, kind);
  }

  /** ... and at the socket's end: a displaced walker starts reconnecting. */
  onClose(walker, hello, code) {
    count(this.closeCodes, String(code));
    if (walker.fallback !== null && hello.isSet && !this.closing && RECONNECT_CODES.has(code)) {
      walker.displacedAt = monotonic();
      const task = this.reconnect(walker, code);
      this.reconnects.add(task);
      task.finally(() => this.reconnects.delete(task));
    }
  }

  /** One connect: true once `hello` came, false if it failed or closed before. */
  async attempt(walker, url) {
    const hello = new Flag();
    walker.hello = hello;
    let closed;
    walker.closed = new Promise((resolve) => {
      closed = resolve;
    });
    // Before the open, an error or a close fails the attempt (`settled` answers true or what
    // failed, counted `connect:<what>`); after it, the frames and the close are the walker's.
    let opened = false;
    let settle;
    const settled = new Promise((resolve) => {
      settle = resolve;
    });
    const conn = this.transport.open(url, {
      open: () => {
        opened = true;
        if (!this.expectHello) {
          walker.helloAt = monotonic();
          hello.set();
        }
        settle(true);
      },
      message: (body) => this.onMessage(walker, hello, body),
      error: (label) => {
        if (opened) count(this.closeCodes, label);
        else settle(label);
      },
      close: (code) => {
        if (opened) this.onClose(walker, hello, code);
        else settle(`close:${code}`);
        closed();
      },
    });
    walker.ws = conn;
    // No receive timeout: a walker may hear nothing for a long while (its partner not yet
    // connected); only the handshake and the close are bounded.
    let timer;
    const outcome = await Promise.race([
      settled,
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('TimeoutError'), CONNECT_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (outcome !== true) {
      count(this.closeCodes, `connect:${outcome}`);
      if (outcome === 'TimeoutError') conn.abort();
      return false;
    }
    await Promise.race([
      hello.promise,
      walker.closed,
      new Promise((resolve) => {
        timer = setTimeout(resolve, CONNECT_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!hello.isSet) {
      conn.close();
      await walker.closed;
    }
    return hello.isSet;
  }

  /** A back-off that `close` ends early. */
  backOff(seconds) {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeSleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, seconds * 1000);
      this.wakeSleepers.add(wake);
    });
  }

  async reconnect(walker, code) {
    let step = code === GOING_AWAY ? 0 : 1;
    while (!this.closing) {
      const delay =
        step === 0
          ? uniform(0, GOING_AWAY_SPREAD_S)
          : retryDelay(step, BACKOFF_BASE_S, BACKOFF_CAP_S);
      const due = monotonic() + delay;
      await this.backOff(delay);
      if (this.closing) return;
      walker.reconnectAttempts += 1;
      const started = monotonic();
      if (await this.attempt(walker, walker.fallback)) {
        walker.readmittedAt = walker.helloAt;
        for (const resolve of this.readmitted) resolve();
        this.readmitted.clear();
        this.handshakesMs.push(round((walker.helloAt - started) * 1000, 3));
        // How late this process's own loop started the attempt: its lag, not the server's.
        this.reconnectLagsMs.push(round((started - due) * 1000, 3));
        return;
      }
      this.failedAttempts += 1;
      step += 1;
    }
  }

  async connect() {
    this.closing = false;
    this.walkers = this.urls.map((url, i) => new Walker(url, this.fallbacks[i]));
    this.closeCodes = {};
    const started = monotonic();
    let next = 0;
    let connected = 0;
    const gate = async () => {
      while (next < this.walkers.length) {
        const walker = this.walkers[next++];
        if (await this.attempt(walker, walker.url)) connected += 1;
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, gate));
    return {
      event: 'connected',
      connected,
      failed: this.walkers.length - connected,
      connect_s: round(monotonic() - started, 2),
      close_codes: { ...this.closeCodes },
    };
  }

  /** Each walker connected at the start sends `rateHz` a second, round robin, until stopped;
   * a walker between sockets (reconnecting) skips its turns. */
  async send(rateHz) {
    const walkers = this.walkers.filter((w) => w.open);
    const totalRate = (rateHz * walkers.length) / 1000; // a millisecond
    const { sendTimes, latencyMs, fresh, onSent } = this;
    let turns = 0;
    let position = 0;
    const started = performance.now();
    while (walkers.length && !this.stopSending) {
      const due = Math.floor((performance.now() - started) * totalRate) - turns;
      for (let i = 0; i < due; i++) {
        const walker = walkers[position];
        position = (position + 1) % walkers.length;
        turns += 1;
        if (!walker.open) continue;
        const seq = sendTimes.length;
        sendTimes.push(performance.now());
        latencyMs.push(-1.0);
        fresh.push(0);
        walker.ws.sendLocation({ lat: 37.5665, lng: LNG0 + seq / SEQ_SCALE }, onSent);
      }
      await sleep(SEND_TICK_MS);
    }
  }

  start(rateHz) {
    this.startedAt = performance.now();
    this.window = {
      firstSeq: this.sendTimes.length,
      started: this.startedAt,
      sendErrors: this.sendErrors,
    };
    this.stopSending = false;
    this.sender = this.send(rateHz);
    return { event: 'started' };
  }

  /** Close the current window: [it, its end seq, its seconds, its send errors]. */
  nextWindow() {
    const ended = this.window;
    const now = performance.now();
    this.window = { firstSeq: this.sendTimes.length, started: now, sendErrors: this.sendErrors };
    return [
      ended,
      this.sendTimes.length,
      (now - ended.started) / 1000,
      this.sendErrors - ended.sendErrors,
    ];
  }

  /** A closed window's figures, once its stragglers had GRACE_MS to arrive. */
  async figures([window, end, seconds, sendErrors]) {
    await sleep(GRACE_MS);
    const latency = this.latencyMs.values;
    const fresh = this.fresh.values;
    const sendTimes = this.sendTimes.values;
    const latencies = [];
    const ages = [];
    const slow = [];
    for (let s = window.firstSeq; s < end; s++) {
      const ms = latency[s];
      if (ms < 0) continue;
      latencies.push(round(ms, 3));
      if (fresh[s]) ages.push(round(ms, 3));
      // (seconds after the sender started that it was sent, latency): when stalls happen.
      if (ms > SLOW_MS) slow.push([round((sendTimes[s] - this.startedAt) / 1000, 3), round(ms, 1)]);
    }
    return {
      event: 'ran',
      sockets: this.walkers.filter((w) => w.open).length,
      sent: end - window.firstSeq,
      delivered: latencies.length,
      send_errors: sendErrors,
      seconds: round(seconds, 3),
      latencies_ms: latencies,
      ages_ms: ages,
      slow,
      close_codes: { ...this.closeCodes },
      kinds: { ...this.kinds },
    };
  }

  async stop() {
    this.stopSending = true;
    await this.sender;
    return this.figures(this.nextWindow());
  }

  async readmit(timeoutS) {
    const movers = this.walkers.filter((w) => w.fallback !== null);
    const deadline = performance.now() + timeoutS * 1000;
    while (!movers.every((w) => w.readmittedAt)) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      let timer;
      await Promise.race([
        new Promise((resolve) => this.readmitted.add(resolve)),
        new Promise((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
    const displaced = movers.filter((w) => w.displacedAt !== null).map((w) => w.displacedAt);
    const readmitted = movers.filter((w) => w.readmittedAt !== null).map((w) => w.readmittedAt);
    const attempts = movers.map((w) => w.reconnectAttempts);
    return {
      event: 'readmitted',
      walkers: movers.length,
      displaced: displaced.length,
      readmitted: readmitted.length,
      displaced_first_at: displaced.length ? Math.min(...displaced) : null,
      readmitted_last_at: readmitted.length ? Math.max(...readmitted) : null,
      handshakes_ms: this.handshakesMs,
      reconnect_lags_ms: this.reconnectLagsMs,
      attempts: attempts.reduce((a, b) => a + b, 0),
      failed_attempts: this.failedAttempts,
      attempts_max: attempts.length ? Math.max(...attempts) : 0,
      close_codes: { ...this.closeCodes },
    };
  }

  async close() {
    const started = monotonic();
    this.closing = true;
    for (const wake of [...this.wakeSleepers]) wake();
    for (const walker of this.walkers) {
      if (walker.ws !== null) walker.ws.close();
    }
    await Promise.all([...this.reconnects, ...this.walkers.map((w) => w.closed)]);
    this.walkers = [];
    return { event: 'closed', closed_s: round(monotonic() - started, 2) };
  }
}

function reply(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function serve(lines, transport) {
  const first = await lines.next();
  if (first.done) return;
  const job = JSON.parse(first.value);
  const urls = job.urls;
  const fallbacks = job.fallbacks && job.fallbacks.length ? job.fallbacks : urls.map(() => null);
  if (fallbacks.length !== urls.length) throw new Error('the job has not one fallback a URL');
  const load = new Load(urls, fallbacks, job.concurrency ?? 100, {
    transport,
    expectHello: job.hello ?? true,
  });
  try {
    for (;;) {
      const line = await lines.next();
      const words = line.done ? [] : line.value.split(/\s+/).filter(Boolean);
      if (!words.length) break;
      const [command, ...args] = words;
      if (command === 'connect') reply(await load.connect());
      else if (command === 'start') reply(load.start(Number(args[0])));
      else if (command === 'window') reply(await load.figures(load.nextWindow()));
      else if (command === 'stop') reply(await load.stop());
      else if (command === 'readmit') reply(await load.readmit(Number(args[0])));
      else if (command === 'close') reply(await load.close());
      else if (command === 'exit') break;
    }
  } finally {
    await load.close();
  }
}

/** Run the load on `transport` (ws_load.js's own, or sio_load.js's). */
function main(transport = wsTransport) {
  const maxSeconds = Number(process.argv[2]);
  const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const fail = (err) => {
    process.stderr.write(`${redact(err && err.stack ? err.stack : err)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  setTimeout(() => {
    process.stderr.write('ws_load: max_seconds reached, exiting\n');
    process.exit(0);
  }, maxSeconds * 1000).unref();
  serve(input[Symbol.asyncIterator](), transport).then(() => process.exit(0), fail);
}

module.exports = { main, CONNECT_TIMEOUT_MS };

if (require.main === module) main();
