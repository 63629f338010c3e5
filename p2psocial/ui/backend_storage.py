"""The backend's calls for disk use and the storage budget (issue 13). Kept apart from
backend.py, which mixes them into both adapters.

Rule: as in backend.py, each call goes through the one METHODS table (`_call`), so an
in-process and an attached backend return the same views; errors are p2psocial errors
(`prune` without a running node is a UsageError of one line).
"""

from __future__ import annotations

from typing import Any, Protocol

from p2psocial.runtime.views import StorageView


class StorageBackend(Protocol):
    """Disk use and the budget, as the UI sees them."""

    async def storage(self) -> StorageView: ...
    async def prune(self) -> dict[str, Any]: ...
    async def set_storage_budget(self, budget: int) -> bool: ...


class StorageCalls:
    """`StorageBackend` over `_call` (the adapters define it)."""

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def storage(self) -> StorageView:
        """What the home takes on disk; with a running node, bytes per hop and what the
        budget would drop now."""
        result: StorageView = await self._call("storage")
        return result

    async def prune(self) -> dict[str, Any]:
        """Apply the budget now (the running node's keeper): what went."""
        result: dict[str, Any] = await self._call("prune")
        return result

    async def set_storage_budget(self, budget: int) -> bool:
        """Set the running node's budget now; False when no node runs to apply it."""
        result: bool = await self._call("set_storage_budget", budget)
        return result
