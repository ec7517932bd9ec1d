// socket.io-client 4.x under Node for tornio's transport tests (tests/test_forwarded_headers.py,
// tests/test_websocket_deflate.py), speaking tests/support/node_client.py's line protocol.
//
//   node transport_client.mjs URL SCENARIO [OPTIONS-JSON]
//
// Options: nsp ("/where"), transports, extraHeaders, perMessageDeflate (passed to the client
// as they are), sizes (deflate), timeout (ms per step, 5000), total (ms, 20000).
//
//   where    connect; print the server's "where" event ({"step": "where", "data"}), the ack of
//            a "where" emit ({"step": "ack", "data"}) and the transport; disconnect.
//   deflate  connect (and wait for the upgrade when it opened on polling); print the
//            websocket's negotiated extensions ({"step": "extensions", "opened"});
//            for each of options.sizes, emit "echo" with a string of that many characters
//            (repetitive text with random words in it) and check the ack carries it back, and
//            ask the server for "big" (it emits a string of that size back); print a line
//            per size; disconnect.

import { randomBytes } from "node:crypto";
import { io } from "socket.io-client";

const [url, scenario, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson || "{}");
const STEP_TIMEOUT = options.timeout ?? 5000;
let current = "start";

function out(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

function fail(message) {
  out("error", { message, during: current });
  process.exit(1);
}

setTimeout(() => fail(`the whole run took longer than ${options.total ?? 20000} ms`),
  options.total ?? 20000).unref();
process.on("unhandledRejection", (err) => fail(String(err && err.stack ? err.stack : err)));

function within(what, promise, ms = STEP_TIMEOUT) {
  current = what;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function emitAck(socket, event, ...args) {
  return within(`the ack of ${event}`, new Promise((resolve, reject) => {
    socket.timeout(STEP_TIMEOUT).emit(event, ...args, (err, ...response) => {
      if (err) reject(err);
      else resolve(response);
    });
  }));
}

function connect(extra = {}) {
  const opts = { reconnection: false, ...extra };
  for (const name of ["transports", "extraHeaders", "perMessageDeflate"]) {
    if (options[name] !== undefined) opts[name] = options[name];
  }
  const socket = io(url + (options.nsp ?? "/where"), opts);
  return socket;
}

async function where() {
  const socket = connect();
  const event = within("the where event", new Promise((resolve) => socket.once("where", resolve)));
  await within("connect", new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
  out("where", { data: await event });
  const [data] = await emitAck(socket, "where");
  out("ack", { data, transport: socket.io.engine.transport.name });
  socket.disconnect();
  out("done");
}

function text(size) {
  // Compressible (repeated phrases) but not trivially so (random words), and not ASCII only.
  const parts = [];
  let length = 0;
  while (length < size) {
    const part = `héllo ${randomBytes(4).toString("hex")} wörld, `;
    parts.push(part);
    length += part.length;
  }
  return parts.join("").slice(0, size);
}

async function deflate() {
  const socket = connect({ transports: options.transports ?? ["websocket"] });
  let opened = null;
  let upgraded = null;
  socket.io.once("open", () => {
    opened = socket.io.engine.transport.name;
    upgraded = new Promise((resolve) => socket.io.engine.once("upgrade", resolve));
  });
  await within("connect", new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
  const engine = socket.io.engine;
  if (engine.transport.name !== "websocket") await within("the upgrade", upgraded);
  const ws = engine.transport.ws;
  out("extensions", { extensions: ws.extensions, opened, transport: engine.transport.name });
  for (const size of options.sizes ?? [10, 100000]) {
    const sent = text(size);
    const [echoed] = await emitAck(socket, "echo", sent);
    if (echoed !== sent) fail(`the echo of ${size} characters differs`);
    const big = within(`big ${size}`, new Promise((resolve) => socket.once("big", resolve)));
    socket.emit("big", size);
    const received = await big;
    if (typeof received !== "string" || received.length !== size) {
      fail(`"big" of ${size} characters came back as ${String(received).length}`);
    }
    out("size", { size, echoed: echoed.length, big: received.length });
  }
  socket.disconnect();
  out("done");
}

const scenarios = { where, deflate };
if (!scenarios[scenario]) {
  fail(`unknown scenario ${scenario}`);
}
try {
  await scenarios[scenario]();
} catch (err) {
  fail(String(err && err.stack ? err.stack : err));
}
