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

# Attachments and blobs (docs/protocol.md §Blobs).
MAX_ATTACHMENTS = 4
MAX_BLOB_BYTES = 5 * 1024 * 1024
MAX_MEDIA_TYPE_CHARS = 100
MAX_ALT_CHARS = 1500
MAX_FILE_NAME_CHARS = 255
BLOB_CHUNK_BYTES = 65_536
MAX_BLOB_REQUEST_BYTES = 64  # B3
MAX_BLOB_HEAD_BYTES = 4_096  # B4
MAX_BLOB_UPLOADS = 8  # B7: streams served at once
MAX_BLOB_UPLOADS_PER_PEER = 2  # B7

# Private messages (docs/protocol.md §Private messages); the M-rule each serves.
MAX_INNER_BYTES = 16_382  # M7: an inner message, before padding
MAIL_SLOT_BYTES = 56  # M8: slot id (8) + sealed message key (32 + 16)
MAIL_MAX_SLOTS = 16  # M8: devices sealed to in one wrap
MAX_WRAP_BYTES = 17_434  # M10: the largest valid wrap (16 slots, bucket 16384)
MAX_MAIL_REQUEST_BYTES = 17_600  # M15
MAX_MAIL_ANSWER_BYTES = 294_912  # M15
MAIL_FETCH_PAGE = 16  # M15: wraps in one FETCH answer
MAIL_WAIT_OPS_MS = 604_800_000  # M5d: 7 days waiting for a writer's ops
MAIL_RETENTION_MS = 2_592_000_000  # M21: 30 days, the default (a holder's config)
MAILBOX_MAX_WRAPS = 1_000  # M23
MAILBOX_MAX_BYTES = 16_777_216  # M23: 16 MiB
MAIL_KNOWN_PER_DAY = 500  # M24: wraps per known sender, mailbox and UTC day
MAIL_STRANGER_PER_DAY = 5  # M24: wraps per stranger, mailbox and UTC day
MAIL_STRANGERS_PER_DAY = 50  # M24: wraps from all strangers together, per mailbox and day
MAIL_POW_BITS = 20  # M25: the default stamp difficulty (a holder's config)
MAX_POW_BITS = 28  # M25: the most a holder may ask
