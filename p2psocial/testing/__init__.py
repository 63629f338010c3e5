"""Public testing kit: builders of identities and signed feeds, and the store conformance suite.

Rule: builders produce real signed entries through the same code as the product
(`p2psocial.core.entry.create_entry`); nothing here fakes a signature or a hash.
"""

from p2psocial.testing.builders import (
    FeedBuilder,
    identity_for,
    make_feed,
    raw_entries,
)

__all__ = ["FeedBuilder", "identity_for", "make_feed", "raw_entries"]
