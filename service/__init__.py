"""The Flask application: intake API, moderator API and pages. Never imports scikit-learn."""

from service.app import create_app

__all__ = ["create_app"]
