"""p2psocial: a peer-to-peer social network of signed, hash-chained logs.

Layers (dependencies point inward): cli → ui → runtime → (net | store) → core.
`core` is pure: no event loop, no database, no network library.
"""

__version__ = "0.1.0"
