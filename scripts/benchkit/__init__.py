"""``scripts/bench``: tornio against bare Tornado, python-socketio and node socket.io.

Each server runs alone, pinned to one core (``taskset``); a Node load generator
(``scripts/bench-js/loadgen.js``, on the ``ws`` package) pinned to the other core speaks the
wire protocol to it. See docs/topics/benchmarks.md and ``scripts/bench --help``.
"""
