"""The application layer, the same for both protocol generations: the ``Socket`` base, the
namespace API (``BaseNamespace``, ``RoomsMixin``, ``BroadcastMixin``), the room index, the
session timers, and the ``SocketHost`` interface through which a socket reaches its owner."""
