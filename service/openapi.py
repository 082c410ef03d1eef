"""/openapi.json, generated from the routes and the pydantic schemas they declare.

A view opts in with @documented(...); the spec is built from the app's URL map, so a documented
route cannot drift from the path it is served on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel

bp = Blueprint("openapi", __name__)

F = TypeVar("F", bound=Callable[..., Any])

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["title", "status"],
}

SECURITY_SCHEMES: dict[str, Any] = {
    "sourceToken": {"type": "http", "scheme": "bearer", "description": "A source's API token"},
    "moderatorToken": {"type": "http", "scheme": "bearer", "description": "A moderator's token"},
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "METRICS_TOKEN, when the service is configured with one",
    },
    "webhookSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "Standard Webhooks signature, with webhook-id and webhook-timestamp",
    },
}


def documented(
    *,
    summary: str,
    tags: list[str],
    request: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | str | None],
    security: list[str] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    request_content_type: str = "application/json",
    request_required: bool = True,
) -> Callable[[F], F]:
    """Declare a view's OpenAPI operation; a "problem" response is problem+json, None no body."""

    def decorate(view: F) -> F:
        view.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "tags": tags,
            "request": request,
            "responses": responses,
            "security": security or [],
            "parameters": parameters or [],
            "request_content_type": request_content_type,
            "request_required": request_required,
        }
        return view

    return decorate


def operation(
    blueprint: Blueprint, rule: str, *, method: str, guard: Callable[[F], F], **doc: Any
) -> Callable[[F], F]:
    """Route, guard and document an API view in one decorator: `doc` goes to documented()."""

    def decorate(view: F) -> F:
        guarded = documented(**doc)(guard(view))
        blueprint.add_url_rule(rule, view_func=guarded, methods=[method])
        return guarded

    return decorate


_PATH_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_spec(app: Flask) -> dict[str, Any]:
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, Any] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        meta = getattr(view, "__openapi__", None)
        if meta is None:
            continue
        path = _PATH_PARAM.sub(lambda m: "{" + m.group("name") + "}", rule.rule)
        parameters = [
            {
                "name": m.group("name"),
                "in": "path",
                "required": True,
                "schema": {"type": "integer" if m.group("conv") == "int" else "string"},
            }
            for m in _PATH_PARAM.finditer(rule.rule)
        ] + list(meta["parameters"])
        responses: dict[str, Any] = {}
        for status, body in meta["responses"].items():
            entry: dict[str, Any] = {"description": str(status)}
            if body == "problem":
                entry["content"] = {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }
            elif isinstance(body, type) and issubclass(body, BaseModel):
                entry["content"] = {"application/json": {"schema": _schema_ref(body, components)}}
            elif isinstance(body, str):
                entry["content"] = {body: {"schema": {"type": "string"}}}
            responses[str(status)] = entry
        operation: dict[str, Any] = {
            "operationId": rule.endpoint.replace(".", "_"),
            "summary": meta["summary"],
            "tags": meta["tags"],
            "parameters": parameters,
            "responses": responses,
        }
        if meta["security"]:
            operation["security"] = [{name: []} for name in meta["security"]]
        if meta["request"] is not None:
            operation["requestBody"] = {
                "required": meta["request_required"],
                "content": {
                    meta["request_content_type"]: {
                        "schema": _schema_ref(meta["request"], components)
                    }
                },
            }
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Comment moderation service", "version": "1"},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }


@bp.get("/openapi.json")
def openapi_json() -> Any:
    return jsonify(build_spec(current_app))
