"""Sans-I/O codecs: bytes and strings in, packets out, and back. No I/O, no clock.

* ``legacy``: Socket.IO 0.9 packets and ``\ufffd`` payload framing;
* ``engineio``: Engine.IO v4 and v3 packets and polling payloads;
* ``socketio``: Socket.IO v5 (and v4) packets with binary attachments;
* ``msgpack_parser``: socket.io-msgpack-parser's packets;
* ``endpoints``: a namespace's two spellings (``''`` and ``'/'`` for the global one).
"""
