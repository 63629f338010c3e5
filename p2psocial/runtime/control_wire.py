"""The control socket's wire format: one JSON object per line, both ways.

Rules:
- A request is {"id", "method", "args", "kwargs"}: id an integer, a string or null (echoed in
  the reply), method a string, args a list, kwargs an object. A reply is {"id", "result"} or
  {"id", "error": {"kind", "message"}}; an event is {"event", "data"}.
- A line is UTF-8 text of at most MAX_LINE bytes holding JSON nested at most MAX_DEPTH deep,
  with no NaN or Infinity and no string that is not valid Unicode (a lone surrogate). Anything
  else is refused with a one-line `UsageError` before it reaches a method.
- An error's kind names a class of p2psocial.core.errors, so the client raises the type an
  in-process call would have raised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from p2psocial.core import errors
from p2psocial.core.errors import NetError, P2PSocialError, UsageError

MAX_LINE = 64 * 1024 * 1024
MAX_DEPTH = 32


class NodeNotRunning(NetError):
    """No node answers on the control socket (or it closed the connection)."""


@dataclass(frozen=True, slots=True)
class Request:
    """A request that has the right shape (its arguments are not checked yet)."""

    id: int | str | None
    method: str
    args: list[Any]
    kwargs: dict[str, Any]


def encode(message: dict[str, Any]) -> bytes:
    """A message as one line."""
    return json.dumps(message).encode() + b"\n"


def error_reply(rid: Any, exc: P2PSocialError) -> dict[str, Any]:
    """The reply carrying `exc`."""
    return {"id": rid, "error": {"kind": type(exc).__name__, "message": str(exc)}}


def parse_line(line: bytes) -> Any:
    """A received line as JSON.

    Raises:
        UsageError: not UTF-8, not JSON, nested too deep, or holding invalid text.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("bad request: not UTF-8 text") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise UsageError(f"bad request: JSON nested deeper than {MAX_DEPTH}") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of too many digits
        raise UsageError(f"bad request: not JSON ({_first_line(exc)})") from None
    _check_json(value)
    return value


def parse_request(line: bytes) -> Request:
    """A request line, checked for shape.

    Raises:
        UsageError: see parse_line; or not an object of the fields above.
    """
    value = parse_line(line)
    if not isinstance(value, dict):
        raise UsageError("bad request: a request is a JSON object")
    rid, method = value.get("id"), value.get("method")
    args, kwargs = value.get("args", []), value.get("kwargs", {})
    if not (rid is None or isinstance(rid, str)
            or (isinstance(rid, int) and not isinstance(rid, bool))):
        raise UsageError("bad request: id must be an integer, a string or null")
    if not isinstance(method, str):
        raise UsageError("bad request: method must be a string")
    if not isinstance(args, list):
        raise UsageError("bad request: args must be a list")
    if not isinstance(kwargs, dict):
        raise UsageError("bad request: kwargs must be an object")
    return Request(rid, method, args, kwargs)


def request_id(line: bytes) -> Any:
    """The id of a request that failed to parse as a whole, if it can be found (else None)."""
    try:
        value = parse_line(line)
    except UsageError:
        return None
    rid = value.get("id") if isinstance(value, dict) else None
    return rid if isinstance(rid, int | str) and not isinstance(rid, bool) else None


def error_from_reply(data: Any) -> P2PSocialError:
    """The exception an error reply stands for."""
    data = data if isinstance(data, dict) else {}
    cls = getattr(errors, str(data.get("kind")), None)
    message = str(data.get("message", "error"))
    if isinstance(cls, type) and issubclass(cls, P2PSocialError):
        try:
            return cls(message)
        except TypeError:  # errors whose constructor needs more than a message
            pass
    return P2PSocialError(message)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _check_json(value: Any) -> None:
    """Depth and text checks over a decoded value, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, list | dict):
            continue
        if depth > MAX_DEPTH:
            raise UsageError(f"bad request: JSON nested deeper than {MAX_DEPTH}")
        if isinstance(item, dict):
            for key in item:
                _check_text(key)
            stack.extend((v, depth + 1) for v in item.values())
        else:
            stack.extend((v, depth + 1) for v in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("bad request: a string holds a lone surrogate (not Unicode text)"
                         ) from None
