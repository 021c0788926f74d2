"""The streams (docs/streams.md, shared/STREAMS.md): events, outbox, relay, snapshots.
The WebSocket consumer and its gate, the edge, are in exchange/api/streams."""
