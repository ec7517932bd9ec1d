// socket.io-client 4.x sockets under Node, driven line by line by tests/test_cluster_hosts.py.
//
//   node hosts_client.mjs
//
// Reads one JSON command a line on stdin, writes one JSON object a line on stdout:
//
//   {"id", "op": "open", "name", "url", "transports"?}  -> {"id", "ok", "sid"} once connected
//                                                          (or {"id", "ok": false, "error"})
//   {"id", "op": "emit", "name", "event", "args"}       -> {"id", "ok", "ack": [...]} (the ack)
//   {"id", "op": "close", "name"}                       -> {"id", "ok"}
//   {"op": "quit"}                                      -> closes every socket and exits
//
// and, for every event a socket receives, {"name", "event", "args"} ("$disconnect" when it
// disconnects, "$upgrade" with the new transport's name when its engine upgrades). Each request has its own timeout, and the whole run ends after `TOTAL` ms:
// nothing waits forever. Polling requests use no keep-alive agent: one TCP connection each.

import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const STEP = 10000;
const TOTAL = 80000;
const sockets = new Map();

function out(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

function open({ id, name, url, transports }) {
  const socket = io(url, {
    transports: transports ?? ["polling"],
    forceNew: true,
    reconnection: false,
    timeout: STEP,
  });
  sockets.set(name, socket);
  socket.onAny((event, ...args) => out({ name, event, args }));
  socket.on("disconnect", (reason) => out({ name, event: "$disconnect", args: [reason] }));
  socket.once("connect", () => out({ id, ok: true, sid: socket.id }));
  socket.io.on("open", () => {
    socket.io.engine.on("upgrade", (transport) =>
      out({ name, event: "$upgrade", args: [transport.name] }));
  });
  socket.once("connect_error", (err) => out({ id, ok: false, error: String(err && err.message) }));
}

function emit({ id, name, event, args }) {
  const socket = sockets.get(name);
  if (!socket) {
    out({ id, ok: false, error: `no socket ${name}` });
    return;
  }
  socket.timeout(STEP).emit(event, ...(args ?? []), (err, ...ack) => {
    out(err ? { id, ok: false, error: String(err.message) } : { id, ok: true, ack });
  });
}

function close({ id, name }) {
  const socket = sockets.get(name);
  if (socket) {
    socket.disconnect();
    sockets.delete(name);
  }
  out({ id, ok: true });
}

function quit() {
  for (const socket of sockets.values()) {
    socket.disconnect();
  }
  process.exit(0);
}

setTimeout(() => {
  out({ error: `hosts_client.mjs ran for ${TOTAL} ms: giving up` });
  process.exit(3);
}, TOTAL).unref();

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (err) {
    out({ error: `bad command ${line}` });
    return;
  }
  const ops = { open, emit, close, quit };
  const op = ops[command.op];
  if (op) {
    op(command);
  } else {
    out({ id: command.id, ok: false, error: `unknown op ${command.op}` });
  }
});
lines.on("close", quit);
