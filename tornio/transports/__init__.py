"""HTTP and websocket plumbing both generations' transports share: the websocket connection
that takes an upgraded socket over from Tornado (``wsconn``), origin checks (``origins``),
and node's inline Flash policy answer (``inline_policy``)."""
