"""The application service: everything a user can do, over the store (and, later, the node).

Rules:
- This is the one API the CLI, the control socket and the UI call. It speaks in handles,
  hex hashes and view objects (p2psocial.runtime.views), never SQL or libp2p.
- `Service` is a facade: each concern is its own module (posting, graph, relays, reading,
  archive) over `ServiceCore` (base: the store, my key, appending, references, names, views).
  The control socket's METHODS name Service methods, so a method moves between modules
  without any caller noticing.
- Reads need only the public key; the secret key is unlocked on the first write. An identity
  restored from an archive, or a used key whose database was lost, writes nothing until its
  latest entries were learnt (see base).
"""

from __future__ import annotations

from p2psocial.core.errors import HandleError
from p2psocial.runtime.service.accounts import AccountsService
from p2psocial.runtime.service.archive import ArchiveService, ImportResult
from p2psocial.runtime.service.base import (
    HINTS_PREFIX,
    LOST_DATABASE,
    MAX_PAGE,
    RESTORED_KEY,
    ServiceCore,
)
from p2psocial.runtime.service.graph import Graph
from p2psocial.runtime.service.messages import Messages
from p2psocial.runtime.service.posting import Posting
from p2psocial.runtime.service.reading import Reading
from p2psocial.runtime.service.relays import RelaysService, relay_token_key
from p2psocial.runtime.service.search import Searching
from p2psocial.runtime.service.social import Social
from p2psocial.runtime.service.storage import Storage


class Service(Posting, Graph, RelaysService, Reading, ArchiveService, AccountsService, Social,
              Searching, Messages, Storage):
    """The user's actions and views over one store."""


__all__ = ["HINTS_PREFIX", "LOST_DATABASE", "MAX_PAGE", "RESTORED_KEY", "HandleError",
           "ImportResult", "Service", "ServiceCore", "relay_token_key"]
