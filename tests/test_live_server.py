"""The test server closes every response body, even when the client resets the connection."""

from __future__ import annotations

import gc
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.live_server import closing_bodies, serving

STATIC = Path(__file__).resolve().parents[1] / "service" / "static"


def test_a_reset_connection_leaves_no_static_file_open(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without closing_bodies, about half of these resets leaked review.js (140 of 300).
    leaks: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda hook: leaks.append(repr(hook.exc_value)))
    app = Flask(__name__, static_folder=str(STATIC))
    served = 0
    with serving(app) as url:
        port = int(url.rsplit(":", 1)[1])
        for _ in range(100):
            with socket.create_connection(("127.0.0.1", port)) as client:
                client.sendall(b"GET /static/review.js HTTP/1.1\r\nHost: test\r\n\r\n")
                served += client.recv(64).startswith(b"HTTP/1.1 200")
                # Linger 0 turns close() into a reset, as a browser's aborted load does.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(0.5)
    gc.collect()
    assert served == 100
    assert leaks == []


def test_the_wrapped_app_still_streams_the_whole_body() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Any:
            return iter([b"a", b"b"])

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [])
        return Body()

    assert closing_bodies(app)({}, lambda *args: None) == [b"ab"]
    assert closed == [True]
