"""The streams (docs/streams.md, shared/STREAMS.md): outbox, relay, WebSocket consumer."""
