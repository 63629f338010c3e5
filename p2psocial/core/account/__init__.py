"""Accounts and devices, pure (docs/protocol.md §Accounts and devices).

- `ops`: the signed account ops and their stateless rules K1-K9.
- `state`: resolving an account's state from the ops held (S1-S7).
- `phrase`: the BIP-39 recovery phrase and the recovery key it derives.
- `pairing`: pairing tokens a new device shows to join an account.
"""
