"""The network adapter: the libp2p host, the sync protocol driver, relays and discovery.

Rule: this is the only package that imports libp2p (and, with the runtime bridge, trio);
libp2p errors become p2psocial.core.errors.NetError here. It never imports p2psocial.store.
"""
