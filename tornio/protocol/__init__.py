"""Sans-I/O wire codecs: pure functions that turn packets into strings and back.

Nothing in this package performs I/O, reads a clock or imports Tornado. ``legacy`` holds the
Socket.IO 0.9 (protocol revision 1) packet codec and multi-packet framing.
"""
