"""Protocol limits (docs/protocol.md §Limits). Every path that accepts data checks them."""

from __future__ import annotations

FORMAT_VERSION = 1

MAX_HEADER_BYTES = 512
MAX_PAYLOAD_BYTES = 16 * 1024
MAX_SEQ = 2**53 - 1
MAX_TIMESTAMP_MS = 2**53 - 1
MAX_TYPE_CHARS = 32
# Arrays and maps nested in one another, the outermost counting 1 (canonical CBOR everywhere).
MAX_NESTING_DEPTH = 16

HASH_BYTES = 32
KEY_BYTES = 32
SIGNATURE_BYTES = 64

# Content limits, counted in Unicode code points unless marked bytes.
MAX_POST_CHARS = 3000
MAX_NAME_CHARS = 64
MAX_BIO_CHARS = 1000
MAX_MENTIONS = 32
MAX_TAGS = 16
MAX_TAG_CHARS = 64
MAX_CW_CHARS = 256
MAX_REACTION_BYTES = 32
MAX_RELAY_ADDRS = 8
MAX_RELAY_ADDR_CHARS = 256
MAX_DM_RECIPIENTS = 16
