// node socket.io 4.x, the reference server, with the same events as tornio's bench
// namespace: `echo` acknowledges with its own arguments, `join` enters a room, `publish`
// emits `msg` to the room (everyone but the sender) and acknowledges.
//   node node_server.js PORT [HOST]        (BENCH_HEARTBEAT seconds between pings)
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2]);
const host = process.argv[3] || '127.0.0.1';
const beat = Number(process.env.BENCH_HEARTBEAT || '5') * 1000;
const room = process.env.BENCH_ROOM || 'bench';

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: beat,
  pingTimeout: 20000,
  perMessageDeflate: false,
  serveClient: false,
  cors: { origin: '*' },
});

io.on('connection', (socket) => {
  socket.on('echo', (...args) => {
    const ack = args.pop();
    if (typeof ack === 'function') ack(...args);
  });
  socket.on('join', (name, ack) => {
    socket.join(name);
    if (typeof ack === 'function') ack(true);
  });
  socket.on('publish', (data, ack) => {
    socket.to(room).emit('msg', data);
    if (typeof ack === 'function') ack(true);
  });
});

httpServer.listen(port, host);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
