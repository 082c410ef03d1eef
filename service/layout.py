"""The one page layout every feature's pages share: header links, template filters, forms' lists.

A feature adds its header links with add_nav_link(app, ...) when its blueprint is registered,
so base.html stays the one layout and no pages module imports another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app
from flask_login import current_user

from core.domain import LABELS
from core.reasons import APPROVE_REASONS, REJECT_REASONS, describe_reason
from service.web import safe_http_url

# Links in the page header: (endpoint, label, admin only), in the order they were added.
NAV_EXTENSION = "moderation_nav"


def add_nav_link(app: Flask, endpoint: str, label: str, admin_only: bool = False) -> None:
    app.extensions.setdefault(NAV_EXTENSION, []).append((endpoint, label, admin_only))


def _nav_links() -> list[tuple[str, str]]:
    is_admin = bool(current_user and current_user.is_authenticated and current_user.is_admin)
    return [
        (endpoint, label)
        for endpoint, label, admin_only in current_app.extensions.get(NAV_EXTENSION, [])
        if is_admin or not admin_only
    ]


def _format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def init_layout(app: Flask) -> None:
    """The template helpers base.html and the pages rely on."""
    app.jinja_env.filters["when"] = _format_time
    app.jinja_env.filters["http_url"] = safe_http_url
    app.jinja_env.filters["describe_reason"] = describe_reason

    @app.context_processor
    def layout_helpers() -> dict[str, Any]:
        return {
            "nav_links": _nav_links,
            "labels": LABELS,
            "reject_reasons": REJECT_REASONS,
            "approve_reasons": APPROVE_REASONS,
        }
