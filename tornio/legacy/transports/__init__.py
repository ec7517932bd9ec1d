"""The 0.9 transports as Tornado handlers: the handshake, websocket, flashsocket (hixie-76),
xhr-polling, jsonp-polling, htmlfile and xhr-multipart."""
