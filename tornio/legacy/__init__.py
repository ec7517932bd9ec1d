"""Socket.IO 0.9 (protocol revision 1): the session state machine (``session``), the socket
(``socket``) and the six transports with the handshake (``transports``). The codec is
:mod:`tornio.protocol.legacy`."""
