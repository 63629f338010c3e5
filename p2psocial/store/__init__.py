"""Storage adapters: the SQLite store (through aiosqlite), the key file and the data directory.

Rule: this is the only package that imports sqlite3 or aiosqlite; their errors become
p2psocial.core.errors.StoreError subclasses here. It never imports p2psocial.net.
"""
