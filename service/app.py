"""Application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core.logging import configure_logging
from core.settings import Settings, get_settings, secret_key_problem
from service.errors import register_error_handlers
from service.queue import KeptPublisher, create_client


class InsecureSecretKey(RuntimeError):
    """SECRET_KEY is missing or weak: anyone could sign a moderator's session cookie."""


def create_app(
    test_config: dict[str, Any] | None = None, settings: Settings | None = None
) -> Flask:
    settings = settings or get_settings()
    configure_logging(settings)
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=None,  # intake enforces its own limit with a problem+json 413
        MODERATION_SETTINGS=settings,
    )
    if test_config:
        app.config.update(test_config)
    # Refused in every mode, tests included: there is no key an app may fall back to.
    problem = secret_key_problem(str(app.config.get("SECRET_KEY") or ""))
    if problem is not None:
        raise InsecureSecretKey(problem)
    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    app.extensions["celery"] = create_client(settings)
    # The intake's publisher: Celery's message over one kept Redis client (service.queue).
    app.extensions["publisher"] = KeptPublisher(app.extensions["celery"], settings)
    register_error_handlers(app)

    from service import health, intake, metrics, openapi, request_ids

    request_ids.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(metrics.bp)

    from service import auth, layout, login
    from service.admin import api as admin_api
    from service.admin import pages as admin_pages
    from service.review import api as review_api
    from service.review import pages as review_pages

    auth.init_auth(app)
    app.register_blueprint(login.bp)
    layout.init_layout(app)
    app.register_blueprint(review_pages.bp)
    app.register_blueprint(review_api.bp)
    app.register_blueprint(admin_pages.bp)
    app.register_blueprint(admin_api.bp)

    from service import limits

    limits.init_limits(app)

    from service import security

    security.init_security(app)
    return app
