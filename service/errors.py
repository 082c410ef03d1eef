"""One ApiError family, rendered as RFC 9457 problem+json by one handler."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from core import (
    appeals,
    author_data,
    authors,
    deliveries,
    policies,
    registry,
    reports,
    review,
    sources,
    suggest,
)

PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    """An error the API reports to its caller; subclasses fix status and type."""

    status = 400
    type = "about:blank"
    title = "Bad Request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.headers = headers or {}
        self.extensions = extensions

    def to_problem(self) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if request:
            problem["instance"] = request.path
        problem.update(self.extensions)
        return problem


class Unauthorized(ApiError):
    status, title, type = 401, "Unauthorized", "/problems/unauthorized"


class Forbidden(ApiError):
    status, title, type = 403, "Forbidden", "/problems/forbidden"


class NotFound(ApiError):
    status, title, type = 404, "Not Found", "/problems/not-found"


class Conflict(ApiError):
    status, title, type = 409, "Conflict", "/problems/conflict"


class PayloadTooLarge(ApiError):
    status, title, type = 413, "Payload Too Large", "/problems/payload-too-large"


class UnsupportedMediaType(ApiError):
    status, title, type = 415, "Unsupported Media Type", "/problems/unsupported-media-type"


class ValidationFailed(ApiError):
    """422 naming every bad field: errors=[{"field": "author.email", "message": ...}]."""

    status, title, type = 422, "Unprocessable Content", "/problems/validation"


class MalformedJson(ApiError):
    status, title, type = 400, "Malformed JSON", "/problems/malformed-json"


class ServiceUnavailable(ApiError):
    status, title, type = 503, "Service Unavailable", "/problems/unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5, **kw: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **kw)


def problem_response(error: ApiError) -> Response:
    response = Response(json.dumps(error.to_problem()), status=error.status, mimetype=PROBLEM_JSON)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _refused(field: str) -> Callable[[Exception], ApiError]:
    """422 naming the one field the refusal is about."""
    return lambda error: ValidationFailed(
        str(error), errors=[{"field": field, "message": str(error)}]
    )


# Each refusal of a core use case and its problem+json; the first matching class wins, so a
# subclass comes before its base.
def _gates_refused(error: Exception) -> ApiError:
    """409 with what each promotion gate found (registry.GatesRefused.results)."""
    results = getattr(error, "results", [])
    return Conflict(str(error), gates=[result.as_json() for result in results])


def _not_enough_labels(error: Exception) -> ApiError:
    """409 (the source's history, not the request, is short) with the labels the period holds
    and how many more a precision needs."""
    return Conflict(
        str(error),
        labels=getattr(error, "labels", None),
        needed=getattr(error, "needed", None),
    )


DOMAIN_ERRORS: tuple[tuple[type[Exception], Callable[[Exception], ApiError]], ...] = (
    (review.CommentNotFound, lambda error: NotFound(str(error))),
    (review.ClaimedByOther, lambda error: Conflict(str(error))),
    (review.UndoRefused, lambda error: Conflict(str(error))),
    (review.ReviewError, _refused("body")),
    (sources.SourceNotFound, lambda error: NotFound(f"no source {error.args[0]!r}")),
    (sources.InvalidSourceChange, _refused("body")),
    (appeals.AppealNotFound, lambda error: NotFound(str(error))),
    (appeals.NotAppealable, lambda error: Conflict(str(error))),
    (appeals.SameModerator, lambda error: Forbidden(str(error))),
    (appeals.NotTheAuthor, _refused("author.id")),
    (appeals.AppealError, _refused("body")),
    (reports.ReportNotFound, lambda error: NotFound(str(error))),
    (reports.ReportError, lambda error: Conflict(str(error))),
    (author_data.NothingStored, lambda error: NotFound(str(error))),
    (authors.NotSanctioned, lambda error: Conflict(str(error))),
    (authors.AuthorError, _refused("body")),
    (suggest.NotEnoughLabels, _not_enough_labels),
    # A well-formed target this source's history cannot meet or judge.
    (suggest.TargetRefused, lambda error: Conflict(str(error))),
    (policies.PolicyVersionNotFound, lambda error: NotFound(str(error))),
    (policies.PolicyInForce, lambda error: Conflict(str(error))),
    (deliveries.EventNotFound, lambda error: NotFound(f"no event {error.args[0]!r}")),
    (deliveries.RedeliveryRefused, lambda error: Conflict(str(error))),
    (registry.UnknownModel, lambda error: NotFound(str(error))),
    (registry.GatesRefused, _gates_refused),
    (registry.RegistryError, lambda error: Conflict(str(error))),
)
DOMAIN_KINDS = tuple(kind for kind, _ in DOMAIN_ERRORS)


def api_error(error: Exception) -> ApiError:
    """The ApiError of a core refusal (DOMAIN_ERRORS); anything else is not ours to map."""
    for kind, to_problem in DOMAIN_ERRORS:
        if isinstance(error, kind):
            return to_problem(error)
    raise error


def domain_problem(error: Exception) -> Response:
    """The problem+json of a core refusal (DOMAIN_ERRORS)."""
    return problem_response(api_error(error))


@contextmanager
def domain_refusals() -> Iterator[None]:
    """A core refusal raised inside leaves as its ApiError: for views whose wrapper sees
    ApiErrors (the intake counts and logs them) rather than a blueprint's error handler."""
    try:
        yield
    except DOMAIN_KINDS as error:
        raise api_error(error) from None


def answer_domain_errors(bp: Blueprint) -> None:
    """An API blueprint answers every core refusal raised in its views as problem+json."""
    for kind in DOMAIN_KINDS:
        bp.register_error_handler(kind, domain_problem)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        return problem_response(error)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException) -> Response | HTTPException:
        # Pages keep Flask's HTML errors; the API always answers problem+json.
        if not request.path.startswith("/v1/") and request.path not in ("/healthz", "/readyz"):
            return error
        problem = ApiError(
            error.description or error.name, status=error.code or 500, title=error.name
        )
        problem.type = "about:blank"
        response = problem_response(problem)
        for name, value in (error.get_response().headers or {}).items():
            if name.lower() in ("allow", "retry-after"):
                response.headers[name] = value
        return response
