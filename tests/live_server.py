"""A WSGI app served over real HTTP on 127.0.0.1 from a thread, for browser and CLI tests.

Werkzeug's development server forgets to close a response body when the client resets the
connection while the server drains the request (its cleanup read raises before `close()`).
A browser that navigates away mid-download does exactly that, and the leaked static file
then surfaces as a ResourceWarning in some later test. So every body is read and closed
here, before the server writes a byte; gunicorn, which serves production, has no such gap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server


def closing_bodies(app: Any) -> Any:
    """Wrap a WSGI app so that its response body is complete and closed when it returns."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return wrapped


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve the app on a free port; yields its base URL and stops the server after."""
    server = make_server("127.0.0.1", 0, closing_bodies(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
