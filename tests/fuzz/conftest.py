"""The API fixtures of tests/service (app, client, sources, signed requests), shared here."""

from tests.service.conftest import (  # noqa: F401 - pytest finds fixtures by name
    app,
    client,
    signed_post,
    source,
)
