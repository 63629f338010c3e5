"""The Textual terminal UI. Rule: it reaches the node only through `backend.UiBackend` (the
runtime's Service and Node API, in process or over the control socket), never SQL or libp2p.

Layout: `launch` opens the app on a home; `app` routes events and post actions; `backend`
adapts a node; one module per screen (home, compose, thread, profile, notifications, follow,
me, network, help, dialogs), each with its .tcss; `postlist` is the list widget all post
lists share, `render` and `rows` turn views into its rows.
"""
