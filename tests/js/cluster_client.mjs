// Several socket.io-client 4.x sockets under Node, driven by tests/test_cluster_ops.py through
// tests/support/node_client.py (NodeClient with driver=): the same one-JSON-object-a-line
// protocol as modern_client.mjs.
//
//   node cluster_client.mjs URL sockets [OPTIONS-JSON]
//
// Commands on stdin, one JSON object a line, run in order:
//
//   {"cmd": "open", "ref", "name", "nsp", "conn"?, "auth"?, "answers"?, "transports"?}
//       connects socket `name` to URL + nsp; sockets opened with the same `conn` share one
//       connection (one Manager: one Engine.IO session, a namespace each). Prints
//       {"step": "opened", "ref", "socket", "id", "engine"} (the socket's name and id, its
//       engine's id).
//       An event that asks for an ack is answered with answers[event] (a list of ack
//       arguments), by default [{"from": name, "args": args}]; "$silent" never answers.
//   {"cmd": "emit", "ref", "name", "event", "args"}  -> {"step": "ack", "ref", "args"}
//   {"cmd": "close", "ref", "name"}                   -> {"step": "closed", "ref"}
//   {"cmd": "quit"}                                    closes every socket, prints "done"
//
// Every event a socket receives prints {"step": "event", "socket", "event", "args"} (the
// socket's name), every disconnection {"step": "disconnect", "socket", "reason"}. A failure or a timeout prints
// {"step": "error", ...} and exits non-zero: nothing waits forever.

import { createInterface } from "node:readline";
import { Manager } from "socket.io-client";

const [url, scenario, optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson || "{}");
const STEP_TIMEOUT = options.timeout ?? 8000;
const TOTAL = options.total ?? 60000;
const managers = new Map();
const sockets = new Map();
let current = "start";

function out(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

function fail(message) {
  out("error", { message, during: current });
  process.exit(1);
}

setTimeout(() => fail(`the whole run took longer than ${TOTAL} ms`), TOTAL).unref();
process.on("unhandledRejection", (err) => fail(String(err && err.stack ? err.stack : err)));

function within(what, promise) {
  current = what;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${STEP_TIMEOUT} ms: ${what}`)),
      STEP_TIMEOUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function managerFor(conn, transports) {
  if (conn && managers.has(conn)) return managers.get(conn);
  const manager = new Manager(url, {
    reconnection: false,
    transports: transports ?? options.transports ?? ["websocket"],
    autoConnect: false,  // each socket connects once, below (twice would be two CONNECTs)
  });
  if (conn) managers.set(conn, manager);
  return manager;
}

async function open({ ref, name, nsp, conn, auth, answers, transports }) {
  const socket = managerFor(conn, transports).socket(nsp ?? "/", { auth: auth ?? {} });
  sockets.set(name, socket);
  const replies = answers ?? {};
  socket.onAny((event, ...args) => {
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args.pop();
      const reply = replies[event] ?? [{ from: name, args }];
      if (reply !== "$silent") last(...reply);
    }
    out("event", { socket: name, event, args });
  });
  socket.on("disconnect", (reason) => out("disconnect", { socket: name, reason }));
  await within(`connecting ${name} to ${nsp}`, new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (err) => reject(new Error(`${name}: ${err.message}`)));
    socket.connect();
  }));
  out("opened", { ref, socket: name, id: socket.id, engine: socket.io.engine.id });
}

async function emit({ ref, name, event, args }) {
  const socket = sockets.get(name);
  if (!socket) throw new Error(`no socket ${name}`);
  const response = await within(`the ack of ${event} from ${name}`, new Promise((resolve, reject) => {
    socket.timeout(STEP_TIMEOUT).emit(event, ...(args ?? []), (err, ...ack) => {
      if (err) reject(err);
      else resolve(ack);
    });
  }));
  out("ack", { ref, args: response });
}

function close({ ref, name }) {
  sockets.get(name)?.disconnect();
  sockets.delete(name);
  out("closed", { ref });
}

function quit() {
  for (const socket of sockets.values()) socket.disconnect();
  for (const manager of managers.values()) manager.engine?.close();
  out("done");
  process.exit(0);
}

if (scenario !== "sockets") fail(`unknown scenario ${scenario}`);
const commands = { open, emit, close };
const lines = createInterface({ input: process.stdin });
let chain = Promise.resolve();
lines.on("line", (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    const command = JSON.parse(line);
    current = `command ${line}`;
    if (command.cmd === "quit") return quit();
    const run = commands[command.cmd];
    if (!run) throw new Error(`unknown command ${line}`);
    await run(command);
  }).catch((err) => fail(String(err && err.stack ? err.stack : err)));
});
lines.on("close", () => { chain.then(quit); });
