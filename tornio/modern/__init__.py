"""Engine.IO v4/v3 and Socket.IO v5/v4: the Engine.IO session state machine (``session``),
the Socket.IO socket (``socket``), the polling and websocket transports (``transports``) and
a plain Engine.IO endpoint without Socket.IO (``endpoint``). The codecs are
:mod:`tornio.protocol.engineio`, :mod:`tornio.protocol.socketio` and
:mod:`tornio.protocol.msgpack_parser`."""
