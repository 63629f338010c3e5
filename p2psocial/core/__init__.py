"""The pure core: entry format, validation, feeds and replication state machines.

Rule: nothing in this package performs I/O, starts a thread, or imports an event loop,
a database or a network library. Everything here is a function of its arguments.
"""
