"""Frames: an unsigned LEB128 length, then that many bytes holding one message.

Rules:
- The length counts the message bytes only, not the prefix. It is written in the fewest
  bytes (no trailing 0x80 groups: "overlong" is an error) and in at most 4 bytes.
- A receiver announces its `max_frame` (at most MAX_FRAME = 1 MiB, at least MIN_FRAME = 64 KiB)
  and rejects a longer length as soon as the prefix is complete: the body is never awaited
  nor buffered beyond what already arrived.
- Until the peer's HELLO arrives the limit is MAX_HELLO_FRAME (2,048 bytes; the largest HELLO
  is ~1,050), so a peer that has not said who it speaks as cannot make us hold more; the
  session raises the limit to `max_frame` once it has read the HELLO.
- The decoder is fed bytes in chunks of any size; a frame split anywhere, even inside its
  prefix, decodes the same as one fed whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

from p2psocial.core.errors import ProtocolError
from p2psocial.core.replication.codes import Code

MAX_FRAME = 1 << 20         # 1,048,576: the largest frame anyone may announce or send
MIN_FRAME = 1 << 16         # 65,536: the smallest max_frame a peer may announce
MAX_PREFIX_BYTES = 4        # 28 bits, more than MAX_FRAME needs
MAX_HELLO_FRAME = 2048      # the limit before the peer's HELLO (a HELLO fits in ~1,050)


def encode_frame(payload: bytes) -> bytes:
    """`payload` with its LEB128 length prefix.

    Raises:
        ValueError: `payload` is longer than MAX_FRAME (a bug in the caller).
    """
    size = len(payload)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes exceeds MAX_FRAME ({MAX_FRAME})")
    prefix = bytearray()
    while True:
        low = size & 0x7F
        size >>= 7
        if size:
            prefix.append(low | 0x80)
        else:
            prefix.append(low)
            return bytes(prefix) + payload


class FrameDecoder:
    """Splits a byte stream into frames (sans-IO: `receive` bytes, take `next_frame`s)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if not MIN_FRAME <= max_frame <= MAX_FRAME:
            raise ValueError(f"max_frame must be in {MIN_FRAME}..{MAX_FRAME}")
        self.max_frame = max_frame
        self.limit = max_frame               # the longest frame accepted now (<= max_frame)
        self._buffer = bytearray()
        self._start = 0                      # where the next frame's prefix begins
        self._error: ProtocolError | None = None

    @property
    def partial(self) -> bool:
        """True while the bytes after the last complete frame begin another one."""
        return len(self._buffer) > self._start

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in a frame."""
        return len(self._buffer) - self._start

    def receive(self, data: bytes) -> None:
        """Add bytes that arrived."""
        if self._start > 65536 and self._start * 2 > len(self._buffer):
            del self._buffer[:self._start]
            self._start = 0
        self._buffer += data

    def next_frame(self) -> bytes | None:
        """The next complete frame's payload, or None until more bytes arrive.

        Raises:
            ProtocolError: the length prefix is malformed (BAD_FRAME) or above max_frame
                (FRAME_TOO_LARGE). The decoder stays broken: later calls raise it again.
        """
        if self._error is not None:
            raise self._error
        header = self._length()
        if header is None:
            return None
        size, prefix = header
        begin = self._start + prefix
        if len(self._buffer) - begin < size:
            return None
        self._start = begin + size
        return bytes(self._buffer[begin:self._start])

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Receive `data`, then yield every frame now complete (raising at a bad prefix)."""
        self.receive(data)
        while (frame := self.next_frame()) is not None:
            yield frame

    def _length(self) -> tuple[int, int] | None:
        """(length, prefix size) of the frame at the read position, once the prefix is whole."""
        value = 0
        for index in range(MAX_PREFIX_BYTES):
            at = self._start + index
            if at >= len(self._buffer):
                return None
            byte = self._buffer[at]
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if byte == 0 and index > 0:
                    self._fail(Code.BAD_FRAME, "overlong length prefix")
                if value > self.limit:
                    what = "max_frame" if self.limit == self.max_frame else "the limit before HELLO"
                    self._fail(Code.FRAME_TOO_LARGE,
                               f"frame of {value} bytes exceeds {what} {self.limit}")
                return value, index + 1
        self._fail(Code.BAD_FRAME, f"length prefix longer than {MAX_PREFIX_BYTES} bytes")

    def _fail(self, code: Code, detail: str) -> NoReturn:
        self._error = ProtocolError(code, detail)
        raise self._error
