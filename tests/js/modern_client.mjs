// socket.io-client 4.x under Node, driven by tornio's tests (tests/support/node_client.py).
//
//   node modern_client.mjs URL SCENARIO [OPTIONS-JSON]
//
// It prints one JSON object per line, {"step": ..., ...}, for everything it saw, binary
// values as {"$bin": "<base64>", "$type": "Buffer" | "ArrayBuffer" | ...}. Any failure or
// timeout prints {"step": "error", "message": ...} and exits non-zero: nothing waits forever.
//
// Options: transports (default: the client's own, polling then upgrade), parser ("msgpack"
// for socket.io-msgpack-parser), nsp ("/test"), query and extraHeaders (the client's own
// options), timeout (ms per step, 5000), total (ms for the whole run, 20000), and per
// scenario:
//
//   full         connect with auth {token: "good"} (and wait for the upgrade when the
//                transports are the default), emit with acks both ways, binary both ways,
//                a room with two more clients, a second namespace on the same connection,
//                refused and unknown namespaces, then disconnect. The server side is
//                tests/test_clients_node.py's namespaces.
//   interactive  connect to nsp (auth from options.auth), print every event received
//                ({"step": "event", ...}; an event asking for an ack is answered with
//                options.answers[event] when given), and run commands read from stdin, one
//                JSON object a line: {"cmd": "emit", "event", "args", "ack": true, "ref"}
//                prints {"step": "ack", "ref", "args"}; {"cmd": "quit"} disconnects.
//                With options.reconnection true the client reconnects as users' clients do,
//                and it also prints "upgrade" (the engine moved to websocket), "close" (the
//                engine closed: reason, description), "reconnect_attempt", "reconnect" and
//                a "connect" line for every later connection.

import { createInterface } from "node:readline";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const [url, scenario, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson || "{}");
const STEP_TIMEOUT = options.timeout ?? 5000;
const NSP = options.nsp ?? "/test";
let current = "start";

// -- output -----------------------------------------------------------------------------------

function show(value) {
  if (Buffer.isBuffer(value)) {
    return { $bin: value.toString("base64"), $type: "Buffer" };
  }
  if (value instanceof ArrayBuffer) {
    return { $bin: Buffer.from(value).toString("base64"), $type: "ArrayBuffer" };
  }
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { $bin: bytes.toString("base64"), $type: value.constructor.name };
  }
  if (Array.isArray(value)) {
    return value.map(show);
  }
  if (value instanceof Error) {
    return { message: value.message, data: show(value.data) };
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, show(v)]));
  }
  return value;
}

function unshow(value) {
  if (Array.isArray(value)) {
    return value.map(unshow);
  }
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string") {
      const bytes = Buffer.from(value.$bin, "base64");
      if (value.$type === "ArrayBuffer") {
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      }
      return bytes;
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unshow(v)]));
  }
  return value;
}

function out(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...show(fields) }) + "\n");
}

function fail(message) {
  out("error", { message, during: current });
  process.exit(1);
}

setTimeout(() => fail(`the whole run took longer than ${options.total ?? 20000} ms`),
  options.total ?? 20000).unref();
process.on("unhandledRejection", (err) => fail(String(err && err.stack ? err.stack : err)));

// -- waiting, always bounded ----------------------------------------------------------------------

function within(what, promise, ms = STEP_TIMEOUT) {
  current = what;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

/** Emit with an ack; resolves with the ack's arguments. */
function emitAck(socket, event, ...args) {
  return within(`the ack of ${event}`, new Promise((resolve, reject) => {
    socket.timeout(STEP_TIMEOUT).emit(event, ...args, (err, ...response) => {
      if (err) reject(err);
      else resolve(response);
    });
  }));
}

function connectOptions(extra = {}) {
  const opts = { reconnection: false, ...extra };
  if (options.transports) opts.transports = options.transports;
  if (options.parser === "msgpack") opts.parser = msgpackParser;
  if (options.query) opts.query = options.query;
  if (options.extraHeaders) opts.extraHeaders = options.extraHeaders;
  return opts;
}

async function connect(nsp, extra = {}) {
  const socket = io(url + nsp, connectOptions({ ...extra, autoConnect: false }));
  // The transport the connection opened with, and whether (and when) it was upgraded.
  socket.io.once("open", () => {
    const engine = socket.io.engine;
    socket.opened = { transport: engine.transport.name, upgraded: false };
    engine.once("upgrade", (transport) => {
      socket.opened.upgraded = transport.name;
      socket.opened.upgraded_before_connect = !socket.connected;
    });
  });
  socket.connect();
  const outcome = await within(`connecting ${nsp}`, Promise.race([
    once(socket, "connect").then(() => ({ ok: true })),
    once(socket, "connect_error").then(([err]) => ({ ok: false, err })),
  ]));
  if (!outcome.ok) {
    throw new Error(`${nsp} refused: ${outcome.err.message} ${JSON.stringify(outcome.err.data)}`);
  }
  return socket;
}

async function refused(nsp, extra) {
  const socket = io(url + nsp, connectOptions(extra));
  const [err] = await within(`connect_error on ${nsp}`, Promise.race([
    once(socket, "connect_error"),
    once(socket, "connect").then(() => {
      throw new Error(`${nsp} connected with ${JSON.stringify(extra)}`);
    }),
  ]));
  const result = { message: err.message, data: err.data ?? null, active: socket.active };
  socket.io.engine?.close();
  socket.close();
  return result;
}

// -- scenarios ----------------------------------------------------------------------------------

async function full() {
  const a = await connect(NSP, { auth: { token: "good" } });
  const engine = a.io.engine;
  out("connect", { id: a.id, transport: engine.transport.name, opened: a.opened });
  if (!options.transports) {
    if (!a.opened.upgraded) {
      await within("the upgrade to websocket", once(engine, "upgrade"));
    }
    out("upgrade", { transport: engine.transport.name, opened: a.opened });
  }

  out("echo", { args: await emitAck(a, "echo", 1, "two", { three: [3] }, null) });
  out("whoami", { args: await emitAck(a, "whoami") });

  // The server asks us something, with an ack; its callback tells us what it got back.
  const questions = [];
  a.on("question", (text, ack) => {
    questions.push(text);
    ack(`answer to ${text}`, 42, { bytes: Buffer.from([7, 8]) });
  });
  const answered = within("the server's answered event", once(a, "answered"));
  const asked = await emitAck(a, "ask", "life?");
  out("ask", { ack: asked, questions, answered: await answered });

  // Binary both ways: a Buffer and an ArrayBuffer, nested in objects and arrays.
  const binaryBack = within("the binary_back event", once(a, "binary_back"));
  const payload = {
    buf: Buffer.from([1, 2, 3]),
    nested: { ab: Uint8Array.from([4, 5, 6]).buffer, list: [Buffer.from("xyz"), "text"] },
  };
  out("binary", { ack: await emitAck(a, "binary", payload), event: await binaryBack });

  // A room: b joins kitchen, c joins den; a shouts to kitchen; only b hears it.
  const b = await connect(NSP, { auth: { token: "good" }, forceNew: true });
  const c = await connect(NSP, { auth: { token: "good" }, forceNew: true });
  const heard = { a: [], b: [], c: [] };
  for (const [name, socket] of Object.entries({ a, b, c })) {
    socket.on("shouted", (...args) => heard[name].push(args));
  }
  const bHears = within("b hearing the room emit", once(b, "shouted"));
  const joins = {
    a: await emitAck(a, "join", "kitchen"),
    b: await emitAck(b, "join", "kitchen"),
    c: await emitAck(c, "join", "den"),
  };
  const shout = await emitAck(a, "shout", "kitchen", "hello kitchen");
  await bHears;
  // Round trips after the shout: anything sent to a or c would have arrived before them.
  await emitAck(a, "echo", "sync");
  await emitAck(c, "echo", "sync");
  out("room", { joins, shout, heard, b_id: b.id, b_transport: b.io.engine.transport.name });
  b.close();
  c.close();

  // A second namespace, on a's connection (the client multiplexes namespaces).
  const other = await connect("/other", { auth: { token: "other" } });
  out("other", {
    same_manager: other.io === a.io,
    whoami: await emitAck(other, "whoami"),
    test_whoami: await emitAck(a, "whoami"),
  });

  // Refusals: recv_connect raising ConnectionRefused(message, data), recv_connect returning
  // False, and a namespace the server does not have.
  out("refused", {
    raised: await refused(NSP, { auth: { token: "bad" }, forceNew: true }),
    false: await refused(NSP, { auth: { token: "none" }, forceNew: true }),
    unknown: await refused("/nowhere", { forceNew: true }),
  });

  // Leave /other, then disconnect: the server sees both.
  other.disconnect();
  out("still", { args: await emitAck(a, "echo", "after /other left") });
  a.disconnect();
  out("done");
}

async function interactive() {
  const socket = await connect(NSP, {
    auth: options.auth ?? {},
    reconnection: options.reconnection ?? false,
  });
  const manager = socket.io;
  const watchEngine = (engine, upgraded) => {
    if (upgraded) out("upgrade", { transport: engine.transport.name });
    else engine.once("upgrade", (transport) => out("upgrade", { transport: transport.name }));
  };
  watchEngine(manager.engine, socket.opened.upgraded);
  manager.on("open", () => watchEngine(manager.engine, false));
  manager.on("close", (reason, description) =>
    out("close", { reason, description: String(description?.message ?? description ?? "") }));
  manager.on("reconnect_attempt", (attempt) => out("reconnect_attempt", { attempt }));
  manager.on("reconnect", (attempt) => out("reconnect", { attempt }));
  socket.on("connect", () =>
    out("connect", { id: socket.id, transport: manager.engine.transport.name }));
  const answers = options.answers ?? {};
  socket.onAny((event, ...args) => {
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args.pop();
      const reply = unshow(answers[event] ?? []);
      last(...reply);
      out("event", { event, args, acked: reply });
    } else {
      out("event", { event, args });
    }
  });
  socket.on("disconnect", (reason) => out("disconnect", { reason }));
  out("connect", { id: socket.id, transport: socket.io.engine.transport.name });
  // Commands run one after the other, in the order they came. (Not `for await` over the
  // lines: it loses lines that arrive while the loop body awaits.)
  const lines = createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  await new Promise((quit) => {
    lines.on("close", quit);
    lines.on("line", (line) => {
      chain = chain.then(() => runCommand(socket, line, quit)).catch((err) => fail(String(err)));
    });
  });
  lines.close();
  socket.disconnect();
  out("done");
}

async function runCommand(socket, line, quit) {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  current = `command ${line}`;
  if (command.cmd === "emit") {
    const args = unshow(command.args ?? []);
    if (command.ack) {
      out("ack", { ref: command.ref ?? null, args: await emitAck(socket, command.event, ...args) });
    } else {
      socket.emit(command.event, ...args);
      out("sent", { ref: command.ref ?? null });
    }
  } else if (command.cmd === "quit") {
    quit();
  } else {
    fail(`unknown command ${line}`);
  }
}

const scenarios = { full, interactive };
if (!scenarios[scenario]) {
  fail(`unknown scenario ${scenario}`);
}
try {
  await scenarios[scenario]();
  // No process.exit(): the last packets (the disconnects) are flushed before Node exits by
  // itself, which it does once every connection is closed.
} catch (err) {
  fail(String(err && err.stack ? err.stack : err));
}
