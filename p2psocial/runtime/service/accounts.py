"""The account log through the service: the ops held for an account, and storing new ones
(signed by the CLI, which holds the keys: the account key, the recovery key or an admin
device key never pass through a running node).

Rules:
- Ops cross the control socket as hex; each is checked by the stateless rules (decode_op)
  before anything is stored, and a bad one refuses the whole call with one line.
- Storing is `store.accounts.add_ops`: duplicates are harmless, the state is re-resolved.
  The ops new here go to every `on_ops_stored` callback (a running node sends them out).
"""

from __future__ import annotations

from p2psocial.core.account.ops import MAX_OP_BYTES, Op, decode_op
from p2psocial.core.errors import AccountOpError, UsageError
from p2psocial.core.identity import parse_handle
from p2psocial.runtime.service.base import ServiceCore

MAX_OPS_PER_CALL = 64


class AccountsService(ServiceCore):
    """The account ops of the store."""

    async def account_ops(self, account: str) -> list[str]:
        """Every op held for the account `account` (a handle), as hex, in a stable order."""
        return [op.raw.hex() for op in await self.store.accounts.ops_of(parse_handle(account))]

    async def add_account_ops(self, ops: list[str]) -> list[str]:
        """Store ops given as hex; returns the hashes (hex) of those new here."""
        if len(ops) > MAX_OPS_PER_CALL:
            raise UsageError(f"at most {MAX_OPS_PER_CALL} ops at once, not {len(ops)}")
        decoded: list[Op] = []
        for text in ops:
            if len(text) > 2 * MAX_OP_BYTES:
                raise UsageError(f"an account op is at most {MAX_OP_BYTES} bytes")
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raise UsageError("an account op is given as hex") from None
            try:
                decoded.append(decode_op(raw))
            except AccountOpError as exc:
                raise UsageError(f"not a valid account op: {exc}") from None
        new = await self.store.accounts.add_ops(decoded)
        if new:
            for callback in self.on_ops_stored:
                callback(new)
        return [op.hash.hex() for op in new]
