"""Bad requests on the control socket are refused at the boundary with one typed line, never
reach a method, never log a traceback (issue 9, item 21)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from p2psocial.runtime.api import METHODS
from p2psocial.runtime.config import NodeConfig
from p2psocial.runtime.control import ControlServer, EventHub
from p2psocial.runtime.node import Node
from p2psocial.runtime.params import signature_checks
from p2psocial.runtime.service import Service
from p2psocial.store import keyfile
from p2psocial.store.home import Home
from p2psocial.testing import identity_for

ME = identity_for("control-requests")

Socket = tuple[asyncio.StreamReader, asyncio.StreamWriter]

BAD_VALUES: list[Any] = [5, None, {"a": 1}, [1], True, 1.5, 2**70, "\ud800", "text",
                         [[[["deep"]]]]]


def make_home(root: Path) -> Home:
    home = Home(root)
    home.create()
    keyfile.write_doc(home.key_file, keyfile.seal(ME, ""))
    return home


@pytest_asyncio.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = Node(make_home(tmp_path / "home"), ME, NodeConfig(), offline=True)
    await n.start()
    yield n
    await n.stop()


@pytest_asyncio.fixture
async def sock(node: Node) -> AsyncIterator[Socket]:
    reader, writer = await asyncio.open_unix_connection(node.home.control_socket,
                                                        limit=2**26)
    yield reader, writer
    writer.close()


async def ask(sock: Socket, line: bytes) -> dict[str, Any]:
    reader, writer = sock
    writer.write(line + b"\n")
    await writer.drain()
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), 20))
    return reply


def request(method: str, *args: Any, **kwargs: Any) -> bytes:
    # ensure_ascii (the default) writes a lone surrogate as the escape "\ud800"
    return json.dumps({"id": 7, "method": method, "args": args, "kwargs": kwargs}).encode()


def assert_refused(reply: dict[str, Any], *words: str) -> None:
    assert "result" not in reply, reply
    error = reply["error"]
    assert error["kind"] in ("UsageError", "HandleError"), error
    assert "internal" not in error["message"] and "\n" not in error["message"], error
    assert len(error["message"]) < 300, error
    for word in words:
        assert word in error["message"], error


@pytest.mark.asyncio
async def test_a_post_of_the_wrong_type_is_refused_in_one_line(
        node: Node, sock: Socket, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for text in (5, None, {"text": "hi"}, ["hi"], True):
        reply = await ask(sock, request("post", text))
        assert reply["id"] == 7
        assert_refused(reply, "post", "text", "string")
    assert_refused(await ask(sock, request("post", "\ud800")), "surrogate")
    assert_refused(await ask(sock, request("post", "fine", reply_to=3)), "reply_to")
    assert_refused(await ask(sock, request("post", "fine", colour="red")), "colour")
    assert_refused(await ask(sock, request("post")), "text")
    assert_refused(await ask(sock, request("log", limit="ten")), "limit", "integer")
    assert_refused(await ask(sock, request("log", limit=2**64)), "limit", "out of range")
    assert_refused(await ask(sock, request("entries", "not a list")), "refs", "list")
    assert (await node.service.log()).entries == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    reply = await ask(sock, request("post", "still serving"))
    assert reply["result"]["text"] == "still serving"


@pytest.mark.asyncio
async def test_requests_that_are_not_requests_are_refused(
        sock: Socket, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    deep = b'{"id": 1, "method": "post", "args": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    assert_refused(await ask(sock, deep), "nested")
    somewhat_deep = b'{"id": 1, "method": "post", "args": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert_refused(await ask(sock, somewhat_deep), "nested")
    assert_refused(await ask(sock, b'{"id": 2, "method": "post", "args": ["\xff\xfe"]}'),
                   "UTF-8")
    for line in (b"[1, 2]", b'"post"', b"5", b"null", b'{"id": 3}', b'{"method": 5}',
                 b'{"method": "post", "args": "hi"}', b'{"method": "post", "kwargs": [1]}',
                 b'{"id": [1], "method": "feed"}', b'{"method": "post", "args": [NaN]}',
                 b'{"method": "log", "kwargs": {"limit": ' + b"9" * 5000 + b"}}"):
        assert_refused(await ask(sock, line), "bad request")
    reply = await ask(sock, b'{"id": 4, "method": "drop_tables"}')
    assert reply["id"] == 4
    assert_refused(reply, "unknown method")
    assert (await ask(sock, request("feed")))["result"]["author"] == ME.handle
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.asyncio
async def test_an_oversized_request_is_answered_and_its_connection_closed(
        node: Node, tmp_path: Path) -> None:
    path = tmp_path / "small.sock"
    server = ControlServer(path, {"service": node.service, "node": node}, EventHub(),
                           max_line=4096)
    await server.start()
    try:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(request("post", "x" * 10_000) + b"\n")
        await writer.drain()
        assert_refused(json.loads(await asyncio.wait_for(reader.readline(), 20)),
                       "at most 4,096 bytes")
        assert await asyncio.wait_for(reader.read(), 20) == b""  # closed
        writer.close()
        reader, writer = await asyncio.open_unix_connection(path)
        assert (await ask((reader, writer), request("feed")))["result"]["author"] == ME.handle
        writer.close()
    finally:
        await server.close()
    assert (await node.service.log()).entries == []


def test_every_method_has_a_checkable_signature() -> None:
    for method in METHODS.values():
        target = Service if method.target == "service" else Node
        signature, checks = signature_checks(getattr(target, method.name))
        assert set(checks) == set(signature.parameters), method.name


def _valid(annotation_check: Any) -> Any:
    for value in ("x", 1, None, ["x"], {}, True, 0.5):
        if annotation_check.accepts(value):
            return value
    raise AssertionError(annotation_check.says)


@pytest.mark.asyncio
async def test_every_method_refuses_every_wrong_type_before_running(
        node: Node, sock: Socket, caplog: pytest.LogCaptureFixture) -> None:
    """Each parameter of each METHOD, given each value its annotation does not take (the
    others given values they do take): a typed one-line refusal, nothing stored."""
    caplog.set_level(logging.WARNING)
    for method in METHODS.values():
        target = Service if method.target == "service" else Node
        signature, checks = signature_checks(getattr(target, method.name))
        for name, param in signature.parameters.items():
            if param.kind in (inspect.Parameter.VAR_POSITIONAL,
                              inspect.Parameter.VAR_KEYWORD):
                continue
            others = {n: _valid(c) for n, c in checks.items()
                      if n != name and signature.parameters[n].default is inspect._empty}
            for bad in BAD_VALUES:
                if checks[name].accepts(bad) and bad != "\ud800":
                    continue
                reply = await ask(sock, request(method.name, **others, **{name: bad}))
                assert_refused(reply)
                assert method.name in reply["error"]["message"] or bad == "\ud800", reply
    assert (await node.service.log()).entries == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.asyncio
async def test_odd_values_of_the_right_type_never_end_in_an_internal_error(
        node: Node, sock: Socket, caplog: pytest.LogCaptureFixture) -> None:
    """Values an annotation takes but a method may not expect (empty, huge, negative, a
    malformed cursor): each call succeeds or is refused with a typed error."""
    caplog.set_level(logging.WARNING)
    odd: dict[str, list[Any]] = {
        "a string": ["", " ", "\x00", "x" * 70_000, "@nobody", "0" * 64],
        "an integer": [-1, 0, 2**63 - 1, -(2**63)],
        "a number": [-1.0, 0, 1e308],
        "a list of (a string)": [[], ["", "x"], ["0" * 64]],
        "a list of (any value)": [[], [1], ["a", "b", "c"], [1, "x", 2], [[1], {}, None]],
    }
    for method in METHODS.values():
        if method.name in ("confirm_restored",):
            continue  # its refusals depend on the home, not on its (absent) arguments
        target = Service if method.target == "service" else Node
        signature, checks = signature_checks(getattr(target, method.name))
        for name in signature.parameters:
            values = [v for say, vs in odd.items() if say in checks[name].says for v in vs]
            others = {n: _valid(c) for n, c in checks.items()
                      if n != name and signature.parameters[n].default is inspect._empty}
            for value in values:
                reply = await ask(sock, request(method.name, **others, **{name: value}))
                if "error" in reply:
                    assert "internal" not in reply["error"]["message"], (method.name, name,
                                                                        value, reply)
                    assert "\n" not in reply["error"]["message"], reply
                    assert len(reply["error"]["message"]) < 300, (method.name, name)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
