"""A real HTTP endpoint for tests (a CMS callback, or a stand-in service): scripted replies."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait before answering (a slow endpoint).
    delay: float = 0.0
    body: bytes = b""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers each POST with the next scripted Reply (then `default`), and keeps every request.

    keep_alive: answer HTTP/1.1 and keep each connection open for the caller's next request (as
    a CMS behind any web server does); `connections` counts the TCP connections accepted.
    """

    def __init__(
        self,
        replies: list[Reply] | None = None,
        default: Reply | None = None,
        *,
        keep_alive: bool = False,
    ) -> None:
        self.replies: deque[Reply] = deque(replies or [])
        self.default = default or Reply(200)
        self.requests: list[Received] = []
        self.connections = 0
        # The most requests this receiver was answering at one moment.
        self.most_in_flight = 0
        self._in_flight = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver.connections += 1
                    receiver._open.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._open.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = receiver.replies.popleft() if receiver.replies else receiver.default
                    receiver._in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver._in_flight)
                if reply.delay:
                    time.sleep(reply.delay)
                with receiver._lock:
                    receiver._in_flight -= 1
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up waiting (a slow-endpoint test): nothing to answer

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        # Handler threads are joined by server_close (stop), so none outlives its test and
        # answers into a closed socket while the interpreter exits.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks"

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        # Kept-alive connections wait for a next request: end them so their threads finish.
        with self._lock:
            still_open = list(self._open)
        for connection in still_open:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server.server_close()


@contextmanager
def running_receiver(
    replies: list[Reply] | None = None, default: Reply | None = None, *, keep_alive: bool = False
) -> Iterator[Receiver]:
    receiver = Receiver(replies, default, keep_alive=keep_alive)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
