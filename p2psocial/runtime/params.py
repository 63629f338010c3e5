"""Checking the arguments of a control request against the method it calls.

Rules:
- The method's signature is the contract: its parameter names, defaults and annotations (of
  the Service or Node method named in p2psocial.runtime.api.METHODS). Arguments are bound to
  the signature (missing, unknown or surplus ones are refused) and each value is checked
  against its annotation before the method is called, so a wrong type never reaches it.
- Understood annotations: str, int, float, bool, None, Any, unions, Literal, list[X] and
  Sequence[X] (a JSON list), dict[str, X] and Mapping[str, X] (a JSON object). Building the
  check of any other annotation raises TypeError: a test builds the check of every METHOD,
  so a method that cannot be checked fails the tests, never a request.
- int excludes bool and must fit in 64 signed bits; float accepts an int; both are finite.
- A failed check is a `UsageError` of one line naming the method, the parameter, what it
  takes and what it got.
"""

from __future__ import annotations

import functools
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from p2psocial.core.errors import UsageError

INT_RANGE = range(-(2**63), 2**63)


@dataclass(frozen=True, slots=True)
class _Type:
    """A compiled annotation: a predicate and how to say what it takes."""

    accepts: Callable[[Any], bool]
    says: str


def check_arguments(name: str, func: Callable[..., Any], args: Sequence[Any],
                    kwargs: Mapping[str, Any]) -> None:
    """Refuse `args`/`kwargs` unless `func` accepts them by its signature.

    Raises:
        UsageError: an argument is missing, unknown, surplus or of the wrong type.
    """
    signature, types_of = signature_checks(_function(func))
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise UsageError(f"{name}: bad arguments: {exc}") from None
    for param, value in bound.arguments.items():
        kind = signature.parameters[param].kind
        expected = types_of[param]
        values = (value if kind is inspect.Parameter.VAR_POSITIONAL
                  else value.values() if kind is inspect.Parameter.VAR_KEYWORD else [value])
        for item in values:
            if not expected.accepts(item):
                raise UsageError(f"{name}: {param} takes {expected.says}, "
                                 f"not {_describe(item)}")


@functools.cache
def signature_checks(func: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, _Type]]:
    """The signature of `func` without `self`, and the check of each parameter.

    Raises:
        TypeError: a parameter has no annotation or one this module does not understand.
    """
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func)
    params = [p for n, p in signature.parameters.items() if n != "self"]
    checks: dict[str, _Type] = {}
    for param in params:
        if param.name not in hints:
            raise TypeError(f"{func.__qualname__}: parameter {param.name} has no annotation")
        checks[param.name] = compile_type(hints[param.name])
    return signature.replace(parameters=params), checks


def compile_type(annotation: Any) -> _Type:
    """The check of one annotation (see the rules above)."""
    simple = _SIMPLE.get(annotation)
    if simple is not None:
        return simple
    origin, parts = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [compile_type(p) for p in parts]
        return _Type(lambda v: any(o.accepts(v) for o in options),
                     " or ".join(o.says for o in options))
    if origin is typing.Literal:
        allowed = tuple(parts)
        return _Type(lambda v: any(v == a and type(v) is type(a) for a in allowed),
                     "one of " + ", ".join(repr(a) for a in allowed))
    if origin in (list, Sequence) and len(parts) == 1:
        item = compile_type(parts[0])
        return _Type(lambda v: isinstance(v, list) and all(item.accepts(x) for x in v),
                     f"a list of ({item.says})")
    if origin in (dict, Mapping) and len(parts) == 2 and parts[0] is str:
        value = compile_type(parts[1])
        return _Type(lambda v: isinstance(v, dict) and all(value.accepts(x)
                                                           for x in v.values()),
                     f"an object of ({value.says})")
    raise TypeError(f"cannot check arguments of type {annotation!r}")


def _function(func: Callable[..., Any]) -> Callable[..., Any]:
    """The plain function under a bound method (so checks are built once per class)."""
    return getattr(func, "__func__", func)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in INT_RANGE


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_int(value)


_SIMPLE: dict[Any, _Type] = {
    Any: _Type(lambda v: True, "any value"),
    None: _Type(lambda v: v is None, "null"),
    type(None): _Type(lambda v: v is None, "null"),
    str: _Type(lambda v: isinstance(v, str), "a string"),
    bool: _Type(lambda v: isinstance(v, bool), "true or false"),
    int: _Type(_is_int, "an integer"),
    float: _Type(_is_number, "a number"),
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer" if value in INT_RANGE else "an integer out of range"
    return {str: "a string", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)
