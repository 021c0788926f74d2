"""The WebSocket API at /ws (shared/STREAMS.md, docs/streams.md), the edge beside the
HTTP one: the admission of a connection (gate.py) and the consumer with its hub
(consumer.py). What a committed change publishes to them is in exchange/streams."""
