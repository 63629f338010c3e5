"""The runtime: the asyncio↔trio bridge and the node that wires store, network and UI together.

Rules:
- The process runs one asyncio loop (Textual, aiosqlite); py-libp2p runs in trio, started as a
  guest on that loop, in the same thread (see p2psocial.runtime.bridge).
- Only `p2psocial/runtime/bridge.py` imports both asyncio and trio. Every crossing between the two
  worlds (asyncio → trio calls, trio → asyncio calls, node → UI events) goes through it.
- This package's `__init__` imports nothing, so that importing `p2psocial.runtime.*` for a
  read-only CLI verb never pays for importing trio or libp2p.
"""
