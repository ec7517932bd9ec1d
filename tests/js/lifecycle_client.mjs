// socket.io-client 4.x under Node for tornio's disconnect and ack tests
// (tests/test_disconnect_modern.py, tests/test_acks_modern.py), on the line protocol of
// tests/support/node_client.py:
//
//   node lifecycle_client.mjs URL commands [OPTIONS-JSON]
//
// It prints one JSON object per line and runs commands read from stdin, one JSON object a
// line, in order. Sockets have names; several sockets may share one Manager (one Engine.IO
// connection, several namespaces). Reconnection is off: an ended connection stays ended.
//
//   {"cmd": "open", "sock", "nsp", "manager", "auth"}   prints {"step": "connected", sock, id}
//                                                  (with "refusable": true, a connect_error
//                                                  prints "refused" {sock, message, data})
//   {"cmd": "emit", "sock", "event", "args", "ack", "ref"}  prints "ack" {ref, args} or "sent"
//                                                  (with "timeout" ms it prints "answer"
//                                                  {ref, acked, args}: acked false when no
//                                                  ack came in time)
//   {"cmd": "answer", "sock", "event", "args"}   answers the oldest held ack of that event
//                                                  now; prints "answered" {sock, event}
//   {"cmd": "disconnect", "sock"}                 socket.disconnect(); prints "left" {sock}
//   {"cmd": "engine", "manager", "action", "data"}  on the Engine.IO socket: "close" it,
//                                                  "mute_pongs" (stop answering pings),
//                                                  "send" data as a raw message; prints
//                                                  "engine_done" {manager, action}
//   {"cmd": "quit"}                               closes everything; prints "done"
//
// Every socket prints what it receives: "event" {sock, event, args, held} (an event that asks
// for an ack is answered at once with options.answers[event] when given, else held for an
// "answer" command), "disconnect" {sock, reason}; managers print "close" {manager, reason}.
// Sockets are named by "sock" ("name" would clash with NodeClient.step's argument).
// Options: transports, timeout (ms per step, 5000), total (ms for the run, 20000), answers.

import { createInterface } from "node:readline";
import { Manager } from "socket.io-client";

const [url, scenario, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson || "{}");
const STEP_TIMEOUT = options.timeout ?? 5000;
const answers = options.answers ?? {};
const managers = new Map();
const sockets = new Map();
const held = new Map(); // `${name} ${event}` -> [ack functions]

function out(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

function fail(message) {
  out("error", { message });
  process.exit(1);
}

setTimeout(() => fail(`the whole run took longer than ${options.total ?? 20000} ms`),
  options.total ?? 20000).unref();
process.on("unhandledRejection", (err) => fail(String(err && err.stack ? err.stack : err)));

function within(what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${STEP_TIMEOUT} ms: ${what}`)),
      STEP_TIMEOUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function manager(name) {
  let found = managers.get(name);
  if (!found) {
    const opts = { reconnection: false, autoConnect: false }; // sockets connect themselves
    if (options.transports) opts.transports = options.transports;
    found = new Manager(url, opts);
    found.on("close", (reason) => out("close", { manager: name, reason }));
    managers.set(name, found);
  }
  return found;
}

function socketNamed(name) {
  const socket = sockets.get(name);
  if (!socket) fail(`no socket named ${name}`);
  return socket;
}

async function open(command) {
  const socket = manager(command.manager ?? "m").socket(command.nsp, { auth: command.auth ?? {} });
  const name = command.sock;
  sockets.set(name, socket);
  socket.onAny((event, ...args) => {
    const last = args[args.length - 1];
    if (typeof last !== "function") {
      out("event", { sock: name, event, args, held: false });
      return;
    }
    args.pop();
    if (event in answers) {
      last(...answers[event]);
      out("event", { sock: name, event, args, held: false });
    } else {
      const key = `${name} ${event}`;
      if (!held.has(key)) held.set(key, []);
      held.get(key).push(last);
      out("event", { sock: name, event, args, held: true });
    }
  });
  socket.on("disconnect", (reason) => out("disconnect", { sock: name, reason }));
  const refusal = await within(`connecting ${command.nsp}`, new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(null));
    socket.once("connect_error", (err) => {
      if (command.refusable) resolve(err);
      else reject(new Error(`connect_error: ${err.message}`));
    });
    socket.connect();
  }));
  if (refusal) {
    out("refused", { sock: name, message: refusal.message, data: refusal.data ?? null });
    return;
  }
  out("connected", { sock: name, id: socket.id });
}

async function run(command, quit) {
  if (command.cmd === "open") {
    await open(command);
  } else if (command.cmd === "emit") {
    const socket = socketNamed(command.sock);
    if (command.ack && command.timeout) {
      socket.timeout(command.timeout).emit(command.event, ...(command.args ?? []),
        (err, ...args) => out("answer", { ref: command.ref ?? null, acked: !err, args }));
    } else if (command.ack) {
      const args = await within(`the ack of ${command.event}`, new Promise((resolve, reject) => {
        socket.timeout(STEP_TIMEOUT).emit(command.event, ...(command.args ?? []),
          (err, ...response) => (err ? reject(err) : resolve(response)));
      }));
      out("ack", { ref: command.ref ?? null, args });
    } else {
      socket.emit(command.event, ...(command.args ?? []));
      out("sent", { ref: command.ref ?? null });
    }
  } else if (command.cmd === "answer") {
    const waiting = held.get(`${command.sock} ${command.event}`) ?? [];
    if (!waiting.length) fail(`no held ack for ${command.event} on ${command.sock}`);
    waiting.shift()(...(command.args ?? []));
    out("answered", { sock: command.sock, event: command.event });
  } else if (command.cmd === "disconnect") {
    socketNamed(command.sock).disconnect();
    out("left", { sock: command.sock });
  } else if (command.cmd === "engine") {
    const engine = manager(command.manager ?? "m").engine;
    if (command.action === "close") {
      engine.close();
    } else if (command.action === "mute_pongs") {
      const send = engine._sendPacket.bind(engine);
      engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
    } else if (command.action === "send") {
      engine.send(command.data);
    } else {
      fail(`unknown engine action ${command.action}`);
    }
    out("engine_done", { manager: command.manager ?? "m", action: command.action });
  } else if (command.cmd === "quit") {
    quit();
  } else {
    fail(`unknown command ${JSON.stringify(command)}`);
  }
}

if (scenario !== "commands") fail(`unknown scenario ${scenario}`);
out("ready");
const lines = createInterface({ input: process.stdin });
let chain = Promise.resolve();
await new Promise((quit) => {
  lines.on("close", quit);
  lines.on("line", (line) => {
    if (!line.trim()) return;
    chain = chain.then(() => run(JSON.parse(line), quit)).catch((err) => fail(String(err)));
  });
});
lines.close();
for (const socket of sockets.values()) socket.disconnect();
for (const found of managers.values()) found.engine?.close();
out("done");
