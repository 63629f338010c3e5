"""The backend's call for pictures and files (issue 13). Kept apart from backend.py, which
mixes it into both adapters.

Rule: as in backend.py, the call goes through the one METHODS table (`_call`), so an
in-process and an attached backend return the same views; errors are p2psocial errors.
"""

from __future__ import annotations

from typing import Any, Protocol

from p2psocial.runtime.views import BlobView


class BlobBackend(Protocol):
    """Pictures and files, as the UI sees them."""

    async def blob_get(self, ref: str, out: str | None = None) -> BlobView: ...


class BlobCalls:
    """`BlobBackend` over `_call` (the adapters define it)."""

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def blob_get(self, ref: str, out: str | None = None) -> BlobView:
        """The blob `ref` (hex id): held, or fetched by the running node from peers (a
        UsageError offline); copied to the file `out` if given."""
        result: BlobView = await self._call("blob_get", ref, out)
        return result
