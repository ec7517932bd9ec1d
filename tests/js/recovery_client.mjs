// socket.io-client 4.x for tornio's connection state recovery tests (tests/support/node_client.py
// with driver=recovery_client.mjs): the same one-JSON-object-a-line protocol as modern_client.mjs.
//
//   node recovery_client.mjs URL SCENARIO [OPTIONS-JSON]      (SCENARIO: "reconnecting")
//
// Connects to options.nsp (default "/") with reconnection on and prints:
//   {"step": "connect", "id", "pid", "recovered", "transport"}   for every (re)connection
//   {"step": "event", "event", "args"}                    every event, the offset included
//   {"step": "disconnect", "reason"}                      every disconnection
// and runs commands from stdin: {"cmd": "emit", "event", "args", "ack": true, "ref"} (prints
// {"step": "ack", "ref", "args"}), {"cmd": "drop"} (closes the engine as a broken network would:
// the client reconnects; with "hold": true it stays away until {"cmd": "reconnect"}),
// {"cmd": "hold"} (a connection that breaks from now on is not reconnected until
// {"cmd": "reconnect"}),
// {"cmd": "quit"}. Every wait is bounded by options.total (ms).

import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [url, , optionsJson] = process.argv.slice(2);
const options = JSON.parse(optionsJson || "{}");

function out(step, fields = {}) {
  process.stdout.write(JSON.stringify({ step, ...fields }) + "\n");
}

function fail(message) {
  out("error", { message });
  process.exit(1);
}

setTimeout(() => fail(`the whole run took longer than ${options.total ?? 30000} ms`),
  options.total ?? 30000).unref();
process.on("unhandledRejection", (err) => fail(String(err && err.stack ? err.stack : err)));

const opts = {
  reconnection: true,
  reconnectionDelay: options.reconnectionDelay ?? 100,
  reconnectionDelayMax: options.reconnectionDelayMax ?? 500,
  auth: options.auth ?? {},
};
if (options.transports) opts.transports = options.transports;
const socket = io(url + (options.nsp ?? "/"), opts);
socket.on("connect", () =>
  out("connect", { id: socket.id, pid: socket._pid ?? null, recovered: Boolean(socket.recovered),
                   transport: socket.io.engine.transport.name }));
socket.on("disconnect", (reason) => out("disconnect", { reason }));
socket.on("connect_error", (err) => out("connect_error", { message: err.message }));
socket.onAny((event, ...args) => out("event", { event, args }));

const lines = createInterface({ input: process.stdin });
let chain = Promise.resolve();
lines.on("line", (line) => {
  chain = chain.then(() => run(JSON.parse(line))).catch((err) => fail(String(err)));
});
lines.on("close", () => process.exit(0));

async function run(command) {
  if (command.cmd === "emit") {
    if (command.ack) {
      const args = await socket.timeout(5000).emitWithAck(command.event, ...(command.args ?? []));
      out("ack", { ref: command.ref, args: [args] });
    } else {
      socket.emit(command.event, ...(command.args ?? []));
    }
  } else if (command.cmd === "drop") {
    if (command.hold) socket.io.reconnection(false);
    socket.io.engine.close();
  } else if (command.cmd === "hold") {
    socket.io.reconnection(false);
    out("holding");
  } else if (command.cmd === "reconnect") {
    socket.io.reconnection(true);
    socket.connect();
  } else if (command.cmd === "quit") {
    socket.disconnect();
    out("done");
    process.exit(0);
  } else {
    fail(`unknown command ${JSON.stringify(command)}`);
  }
}
