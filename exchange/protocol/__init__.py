"""The protocol's rules as pure functions (PROTOCOL.md): the hashes, the EIP-712 typed data,
signer recovery and what the contract's trade() does to balances.

No Django, no ORM, no node: plain values in, plain values out, so the web process, the chain
workers, the benchmarks and a client (relayer/demo_client.py) compute the same bytes. The
import contract "The protocol is pure" (pyproject.toml, docs/architecture.md) holds it so.
"""
