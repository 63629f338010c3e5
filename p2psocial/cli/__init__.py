"""The `p2psocial` command. Rule: it reaches the node only through the runtime's Service
(in-process, or over the control socket when a node runs); it never opens SQL or libp2p."""
