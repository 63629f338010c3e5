"""Private messages, version 1 (docs/protocol.md §Private messages): the pure core.

Rules:
- No I/O, no clock (`now_ms` is passed in), no randomness except through an injectable `draw`.
- Modules, one job each: `inner` (the signed message, M1-M6), `pad` (M7), `wrap` (sealing
  and opening, M8-M10), `stamp` (M25), `wire` (the mail protocol's messages, M15),
  `holder_policy` (a holder's decisions, M14, M21-M25), `conversation` (the fold of one
  conversation, M11-M13, M26-M27), `route` (holders to try and retry timing, M16, M18),
  `delivery` (the wraps a device sends for a message, and opening one it fetched: M12, M17).
- Remote data that breaks a rule raises MailError with the rule; a local mistake UsageError.
"""
