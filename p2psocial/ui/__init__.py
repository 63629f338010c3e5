"""The Textual terminal UI. Rule: it reaches the node only through the runtime's Service API,
never SQL or libp2p."""
