// tornio's benchmark load generator: speaks the wire protocols directly, so that the client
// costs the same for every server.
//
//   node loadgen.js '<config JSON>'
//
// Protocols: "modern" (Engine.IO v4 + Socket.IO v5: websocket /socket.io/?EIO=4&transport=
// websocket, or polling), "legacy" (Socket.IO 0.9: handshake, then /socket.io/1/websocket/<sid>
// or /socket.io/1/xhr-polling/<sid>), "raw" (bare websockets /echo and /broadcast, and the
// long-polling echo /poll of scripts/bench_apps/tornado_app.py).
//
// Scenarios (config.scenario):
//   echo       clients × inflight emits with acks; acks/s over `duration` after `warmup`
//   broadcast  `clients` room members and one publisher; the publisher keeps at most `window`
//              messages not yet delivered to every member; deliveries/s at the members
//   polling    like echo, over HTTP long-polling (keep-alive agents, one per client)
//   idle       connects sizes[0] clients and waits; on stdin: "next" connects up to the next
//              size, "stats" prints counters, "quit" closes everything and ends
//
// Output: one JSON object per line on stdout ({"event": "connected" | "measuring" | "stats" |
// "result", ...}); diagnostics on stderr. The exit status is 0 when a result was printed.
'use strict';

const http = require('http');
const readline = require('readline');
const WebSocket = require('ws');

const cfg = Object.assign(
  {
    host: '127.0.0.1',
    clients: 50,
    inflight: 8,
    warmup: 1,
    duration: 5,
    window: 8,
    connectConcurrency: 100,
    connectTimeout: 120,
    sizes: [2000, 10000],
    room: 'bench',
  },
  JSON.parse(process.argv[2] || '{}'),
);

const ECHO_ARG = '{"text":"hello, tornio","n":42}';
const PUBLISH_ARG = '{"text":"hello, room","n":42}';

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
function log(...args) {
  process.stderr.write('loadgen: ' + args.join(' ') + '\n');
}
function sleep(seconds) {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}
function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}
function fail(message) {
  out({ event: 'result', ok: false, error: message });
  process.exit(1);
}

// Digits of an ack id starting at `offset` of a Buffer or string.
function digitsAt(data, offset) {
  let id = 0;
  for (let i = offset; i < data.length; i++) {
    const c = typeof data === 'string' ? data.charCodeAt(i) : data[i];
    if (c < 48 || c > 57) break;
    id = id * 10 + (c - 48);
  }
  return id;
}

function httpGet(path, agent) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: cfg.host, port: cfg.port, path, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

// -- websocket clients ----------------------------------------------------------------------

const counters = { pings: 0, closed: 0, errors: 0 };

// One websocket client. `on.ack(client, id, data)`, `on.event(client, data)` (a server event
// or, for raw, any frame), `on.close(client)`.
class WsClient {
  constructor(index, on) {
    this.index = index;
    this.on = on;
    this.nextId = 0;
    this.ready = false;
    this.ws = null;
  }

  url(path) {
    return `ws://${cfg.host}:${cfg.port}${path}`;
  }

  async connect(rawPath) {
    let path;
    if (cfg.protocol === 'modern') {
      path = '/socket.io/?EIO=4&transport=websocket';
    } else if (cfg.protocol === 'legacy') {
      const res = await httpGet('/socket.io/1/?t=' + Date.now(), false);
      if (res.status !== 200) throw new Error(`handshake answered ${res.status}: ${res.body.slice(0, 80)}`);
      path = '/socket.io/1/websocket/' + res.body.split(':')[0];
    } else {
      path = rawPath;
    }
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url(path), {
        perMessageDeflate: false,
        skipUTF8Validation: true,
        handshakeTimeout: cfg.connectTimeout * 1000,
      });
      this.ws = ws;
      let settled = false;
      const done = (err) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(this);
      };
      ws.on('open', () => {
        if (cfg.protocol === 'raw') {
          this.ready = true;
          done();
        }
      });
      ws.on('message', (data) => {
        if (!this.ready) {
          this.handshake(data, done);
          return;
        }
        this.receive(data);
      });
      ws.on('error', (err) => {
        counters.errors++;
        done(err);
      });
      ws.on('close', () => {
        counters.closed++;
        done(new Error('closed during connect'));
        if (this.on.close) this.on.close(this);
      });
    });
  }

  handshake(data, done) {
    const s = data.toString();
    if (cfg.protocol === 'modern') {
      if (s[0] === '0') this.ws.send('40');
      else if (s.startsWith('40')) {
        this.ready = true;
        done();
      } else if (s.startsWith('44')) done(new Error('connect error: ' + s));
      else if (s === '2') this.ws.send('3');
    } else if (s.startsWith('1::')) {
      this.ready = true;
      done();
    } else if (s.startsWith('7:') || s.startsWith('0:')) {
      done(new Error('refused: ' + s));
    }
  }

  receive(data) {
    const p = cfg.protocol;
    const c0 = data[0];
    if (p === 'modern') {
      if (c0 === 0x34) {
        const c1 = data[1];
        if (c1 === 0x33) this.on.ack(this, digitsAt(data, 2), data);
        else if (c1 === 0x32) this.on.event(this, data);
        else if (c1 === 0x31 || c1 === 0x34) log('client', this.index, 'got', data.toString());
      } else if (c0 === 0x32 && data.length === 1) {
        counters.pings++;
        this.ws.send('3');
      }
    } else if (p === 'legacy') {
      if (c0 === 0x36) this.on.ack(this, digitsAt(data, 4), data);
      else if (c0 === 0x35) this.on.event(this, data);
      else if (c0 === 0x32) {
        counters.pings++;
        this.ws.send('2::');
      } else if (c0 === 0x37 || c0 === 0x30) log('client', this.index, 'got', data.toString());
    } else {
      this.on.event(this, data);
    }
  }

  // Emit `event` with one JSON argument; returns the ack id (raw: sends the frame).
  emit(event, argJson) {
    const id = ++this.nextId;
    const p = cfg.protocol;
    if (p === 'modern') this.ws.send(`42${id}["${event}",${argJson}]`);
    else if (p === 'legacy') this.ws.send(`5:${id}+::{"name":"${event}","args":[${argJson}]}`);
    else this.ws.send(`["${event}",${argJson}]`);
    return id;
  }

  close() {
    if (this.ws) this.ws.terminate();
  }
}

// Connect `n` clients made by `make(i)`, at most `connectConcurrency` at a time.
async function connectAll(n, make, path, offset = 0) {
  const clients = new Array(n);
  let next = 0;
  let failed = 0;
  let firstError = null;
  const deadline = now() + cfg.connectTimeout;
  async function worker() {
    while (next < n) {
      const i = next++;
      const client = make(offset + i);
      let tries = 0;
      for (;;) {
        try {
          await client.connect(path);
          clients[i] = client;
          break;
        } catch (err) {
          if (++tries >= 3 || now() > deadline) {
            failed++;
            if (!firstError) firstError = String(err && err.message ? err.message : err);
            break;
          }
          await sleep(0.05 * tries);
        }
      }
    }
  }
  const workers = [];
  for (let k = 0; k < Math.min(cfg.connectConcurrency, n); k++) workers.push(worker());
  await Promise.all(workers);
  return { clients: clients.filter(Boolean), failed, firstError };
}

// With config.waitGo, a scenario waits after connecting until "go" arrives on stdin (the
// orchestrator reads the server's state while nothing else is going on).
function waitGo() {
  if (!cfg.waitGo) return Promise.resolve();
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === 'go') {
        rl.close();
        resolve();
      }
    });
  });
}

// -- echo ------------------------------------------------------------------------------------

async function measure(counter) {
  await sleep(cfg.warmup);
  counter.count = 0;
  const t0 = now();
  out({ event: 'measuring', duration: cfg.duration });
  await sleep(cfg.duration);
  const elapsed = now() - t0;
  return { count: counter.count, elapsed, rate: counter.count / elapsed };
}

function checkEcho(data) {
  const s = data.toString();
  if (!s.includes('"hello, tornio"')) throw new Error('unexpected echo answer: ' + s.slice(0, 120));
}

async function runEcho() {
  const counter = { count: 0 };
  const checked = new Set();
  let bad = null;
  const onAnswer = (client, data) => {
    if (!checked.has(client.index)) {
      checked.add(client.index);
      try {
        checkEcho(data);
      } catch (err) {
        bad = err.message;
      }
    }
    counter.count++;
    client.emit('echo', ECHO_ARG);
  };
  const make = (i) =>
    new WsClient(i, {
      ack: (client, id, data) => onAnswer(client, data),
      event: (client, data) => {
        if (cfg.protocol === 'raw') onAnswer(client, data);
      },
    });
  const { clients, failed, firstError } = await connectAll(cfg.clients, make, '/echo');
  out({ event: 'connected', n: clients.length, failed, firstError });
  if (clients.length < cfg.clients) fail(`only ${clients.length} of ${cfg.clients} clients connected: ${firstError}`);
  await waitGo();
  const closedBefore = counters.closed;
  for (const c of clients) for (let k = 0; k < cfg.inflight; k++) c.emit('echo', ECHO_ARG);
  const m = await measure(counter);
  if (bad) fail(bad);
  if (m.count === 0) fail('no acks while measuring');
  const closed = counters.closed - closedBefore;
  for (const c of clients) c.close();
  out({ event: 'result', ok: closed === 0, error: closed ? `${closed} connections closed while measuring` : undefined,
    value: m.rate, unit: 'acks/s', count: m.count, elapsed: m.elapsed, clients: clients.length });
}

// -- broadcast -------------------------------------------------------------------------------

async function runBroadcast() {
  const n = cfg.clients;
  const RING = 4096;
  const ring = new Int32Array(RING);
  const received = new Int32Array(n);
  const counter = { count: 0 };
  let published = 0;
  let completed = 0;
  let acks = 0;
  let publisher = null;
  let bad = null;
  let members = 0;
  const pump = () => {
    while (publisher && published - completed < cfg.window) {
      publisher.emit('publish', PUBLISH_ARG);
      published++;
    }
  };
  const onDelivery = (client, data) => {
    if (client.index === 0 && received[0] === 0 && !data.toString().includes('"hello, room"')) {
      bad = 'unexpected broadcast frame: ' + data.toString().slice(0, 120);
    }
    const r = ++received[client.index];
    const slot = r & (RING - 1);
    counter.count++;
    if (++ring[slot] === members) {
      ring[slot] = 0;
      completed++;
      pump();
    }
  };
  const joins = [];
  const make = (i) =>
    new WsClient(i, {
      ack: (client, id) => {
        const resolve = client.pendingJoin;
        if (resolve && id === client.joinId) {
          client.pendingJoin = null;
          resolve();
        }
      },
      event: onDelivery,
    });
  const { clients, failed, firstError } = await connectAll(n, make, '/broadcast');
  if (clients.length < n) fail(`only ${clients.length} of ${n} members connected: ${firstError}`);
  // Re-index the members densely (a retried connect keeps its index; all connected here).
  if (cfg.protocol !== 'raw') {
    for (const c of clients) {
      joins.push(new Promise((resolve) => {
        c.pendingJoin = resolve;
        c.joinId = c.emit('join', JSON.stringify(cfg.room));
      }));
    }
    const timeout = sleep(30).then(() => 'timeout');
    if ((await Promise.race([Promise.all(joins), timeout])) === 'timeout') fail('joins were not acknowledged');
  }
  members = clients.length;
  const pubs = await connectAll(1, (i) => new WsClient(i, { ack: () => acks++, event: () => acks++ }),
    '/broadcast?role=pub', n);
  if (!pubs.clients.length) fail('the publisher could not connect: ' + pubs.firstError);
  out({ event: 'connected', n: clients.length + 1, failed: failed + pubs.failed, firstError });
  await waitGo();
  const closedBefore = counters.closed;
  publisher = pubs.clients[0];
  let lastCompleted = -1;
  let stalledSince = now();
  const watchdog = setInterval(() => {
    if (completed !== lastCompleted) {
      lastCompleted = completed;
      stalledSince = now();
    } else if (now() - stalledSince > 10) {
      fail(`stalled: ${published} published, ${completed} delivered to every member`);
    }
  }, 500);
  pump();
  const m = await measure(counter);
  clearInterval(watchdog);
  if (bad) fail(bad);
  const closed = counters.closed - closedBefore;
  for (const c of clients) c.close();
  publisher.close();
  out({ event: 'result', ok: closed === 0 && m.count > 0,
    error: closed ? `${closed} connections closed while measuring` : (m.count ? undefined : 'nothing delivered'),
    value: m.rate, unit: 'deliveries/s', count: m.count, elapsed: m.elapsed, members: clients.length,
    published, completed, acks, messagesPerSecond: m.rate / members });
}

// -- idle ------------------------------------------------------------------------------------

async function runIdle() {
  const all = [];
  let sizeIndex = 0;
  let failedTotal = 0;
  const make = (i) => new WsClient(i, { ack: () => {}, event: () => {} });
  const grow = async () => {
    const target = cfg.sizes[sizeIndex];
    const t0 = now();
    const { clients, failed, firstError } = await connectAll(target - all.length, make, '/echo', all.length);
    all.push(...clients);
    failedTotal += failed;
    out({ event: 'connected', n: all.length, target, failed, firstError, seconds: now() - t0 });
  };
  await grow();
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const cmd = line.trim();
    if (cmd === 'next') {
      sizeIndex = Math.min(sizeIndex + 1, cfg.sizes.length - 1);
      await grow();
    } else if (cmd === 'stats') {
      const open = all.filter((c) => c.ws.readyState === WebSocket.OPEN).length;
      out({ event: 'stats', open, pings: counters.pings, closed: counters.closed, errors: counters.errors });
    } else if (cmd === 'quit') {
      break;
    }
  }
  const open = all.filter((c) => c.ws.readyState === WebSocket.OPEN).length;
  for (const c of all) c.close();
  out({ event: 'result', ok: failedTotal === 0, value: open, unit: 'connections', pings: counters.pings,
    failed: failedTotal, error: failedTotal ? `${failedTotal} connections failed` : undefined });
}

// -- polling ---------------------------------------------------------------------------------

let pollT = 0;

class PollClient {
  constructor(index, onAck) {
    this.index = index;
    this.onAck = onAck;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.queue = [];
    this.posting = false;
    this.stopped = false;
    this.nextId = 0;
    this.readyResolve = null;
    this.sid = null;
  }

  request(method, path, body) {
    return new Promise((resolve, reject) => {
      const headers = {};
      if (body !== undefined) {
        headers['Content-Type'] = 'text/plain;charset=UTF-8';
        headers['Content-Length'] = Buffer.byteLength(body);
      }
      const req = http.request({ host: cfg.host, port: cfg.port, method, path, agent: this.agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 100)}`));
          else resolve(text);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  path() {
    const t = ++pollT;
    if (cfg.protocol === 'modern') return `/socket.io/?EIO=4&transport=polling&t=${t}&sid=${this.sid}`;
    if (cfg.protocol === 'legacy') return `/socket.io/1/xhr-polling/${this.sid}?t=${t}`;
    return `/poll?id=${this.index}&t=${t}`;
  }

  async connect() {
    const ready = new Promise((resolve) => {
      this.readyResolve = resolve;
    });
    if (cfg.protocol === 'modern') {
      const body = await this.request('GET', `/socket.io/?EIO=4&transport=polling&t=${++pollT}`);
      if (body[0] !== '0') throw new Error('bad open packet: ' + body.slice(0, 80));
      this.sid = JSON.parse(body.split('\x1e')[0].slice(1)).sid;
      this.send('40');
    } else if (cfg.protocol === 'legacy') {
      const body = await this.request('GET', `/socket.io/1/?t=${++pollT}`);
      this.sid = body.split(':')[0];
    } else {
      this.readyResolve();
    }
    this.pollLoop();
    const timeout = sleep(30).then(() => 'timeout');
    if ((await Promise.race([ready, timeout])) === 'timeout') throw new Error('not connected after 30 s');
    return this;
  }

  async pollLoop() {
    while (!this.stopped) {
      let body;
      try {
        body = await this.request('GET', this.path());
      } catch (err) {
        if (!this.stopped) {
          counters.errors++;
          log('client', this.index, 'poll failed:', err.message);
          this.stopped = true;
        }
        return;
      }
      for (const packet of this.decode(body)) this.handle(packet);
    }
  }

  decode(body) {
    if (cfg.protocol === 'modern') return body.split('\x1e');
    if (cfg.protocol === 'raw') return [body];
    if (body[0] !== '\ufffd') return [body];
    const packets = [];
    let i = 0;
    while (i < body.length && body[i] === '\ufffd') {
      const end = body.indexOf('\ufffd', i + 1);
      const len = Number(body.slice(i + 1, end));
      packets.push(body.substr(end + 1, len));
      i = end + 1 + len;
    }
    return packets;
  }

  handle(packet) {
    const p = cfg.protocol;
    if (p === 'raw') {
      this.onAck(this, packet);
    } else if (p === 'modern') {
      if (packet.startsWith('43')) this.onAck(this, packet);
      else if (packet === '2') {
        counters.pings++;
        this.send('3');
      } else if (packet.startsWith('40')) this.readyResolve();
      else if (packet === '1' || packet.startsWith('44') || packet.startsWith('41')) {
        log('client', this.index, 'got', packet.slice(0, 80));
        this.stopped = true;
      }
    } else if (packet.startsWith('6:')) this.onAck(this, packet);
    else if (packet.startsWith('1::')) this.readyResolve();
    else if (packet.startsWith('2::')) {
      counters.pings++;
      this.send('2::');
    } else if (packet.startsWith('7:') || packet.startsWith('0:')) {
      log('client', this.index, 'got', packet.slice(0, 80));
      this.stopped = true;
    }
  }

  emit(event, argJson) {
    const id = ++this.nextId;
    if (cfg.protocol === 'modern') this.send(`42${id}["${event}",${argJson}]`);
    else if (cfg.protocol === 'legacy') this.send(`5:${id}+::{"name":"${event}","args":[${argJson}]}`);
    else this.send(`["${event}",${argJson}]`);
  }

  send(packet) {
    this.queue.push(packet);
    if (!this.posting) this.flush();
  }

  async flush() {
    while (this.queue.length && !this.stopped) {
      const packets = this.queue;
      this.queue = [];
      let body;
      if (cfg.protocol === 'modern') body = packets.join('\x1e');
      else if (cfg.protocol === 'legacy' && packets.length > 1) body = packets.map((p) => `\ufffd${p.length}\ufffd${p}`).join('');
      else body = packets.join('');
      this.posting = true;
      try {
        await this.request('POST', this.path(), body);
      } catch (err) {
        if (!this.stopped) {
          counters.errors++;
          log('client', this.index, 'post failed:', err.message);
          this.stopped = true;
        }
      }
      this.posting = false;
    }
  }

  close() {
    this.stopped = true;
    this.agent.destroy();
  }
}

async function runPolling() {
  const counter = { count: 0 };
  let bad = null;
  const checked = new Set();
  const onAck = (client, packet) => {
    if (!checked.has(client.index)) {
      checked.add(client.index);
      if (!packet.includes('"hello, tornio"')) bad = 'unexpected answer: ' + packet.slice(0, 120);
    }
    counter.count++;
    client.emit('echo', ECHO_ARG);
  };
  const { clients, failed, firstError } = await connectAll(cfg.clients, (i) => new PollClient(i, onAck));
  out({ event: 'connected', n: clients.length, failed, firstError });
  if (clients.length < cfg.clients) fail(`only ${clients.length} of ${cfg.clients} clients connected: ${firstError}`);
  await waitGo();
  const errorsBefore = counters.errors;
  for (const c of clients) for (let k = 0; k < cfg.inflight; k++) c.emit('echo', ECHO_ARG);
  const m = await measure(counter);
  const errors = counters.errors - errorsBefore;
  for (const c of clients) c.close();
  if (bad) fail(bad);
  out({ event: 'result', ok: errors === 0 && m.count > 0,
    error: errors ? `${errors} requests failed while measuring` : (m.count ? undefined : 'no round trips'),
    value: m.rate, unit: 'round trips/s', count: m.count, elapsed: m.elapsed, clients: clients.length });
}

// -- main ------------------------------------------------------------------------------------

const scenarios = { echo: runEcho, broadcast: runBroadcast, idle: runIdle, polling: runPolling };
const run = scenarios[cfg.scenario];
if (!run) fail('unknown scenario ' + cfg.scenario);
process.on('unhandledRejection', (err) => fail('unhandled: ' + (err && err.stack ? err.stack : err)));
run().then(
  () => process.exit(0),
  (err) => fail(String(err && err.stack ? err.stack : err)),
);
