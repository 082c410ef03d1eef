"""The import graph the README promises: models/ imports nothing of ours outside models/ but
textfold, core/ nothing but textfold, textfold nothing of ours; no two modules of models/ import
each other (a cycle), counting imports inside functions too; no service feature imports another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
OURS = ("cli", "core", "service", "worker", "bench", "scripts", "tests", "models", "textfold")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports when it runs (imports under ``if TYPE_CHECKING:`` left out)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for statement in node.body
        for child in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


GRAPH = {_module_name(path): _imports(path) for path in sorted(MODELS.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_models_module_imports_nothing_of_ours_outside_models(module: str) -> None:
    outside = sorted(
        name for name in GRAPH[module] if name.split(".")[0] in set(OURS) - {"models", "textfold"}
    )
    assert outside == []


LEAVES = {
    # package: what of ours it may import
    "textfold": {"textfold"},
    "core": {"core", "textfold"},
}


@pytest.mark.parametrize(
    "path",
    sorted(p for package in LEAVES for p in (ROOT / package).rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_core_and_textfold_import_only_what_the_readme_allows(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    ours = {name for name in _imports(path) if name.split(".")[0] in OURS}
    assert sorted(n for n in ours if n.split(".")[0] not in LEAVES[package]) == []


def test_models_modules_import_no_cycle() -> None:
    edges = {
        module: {name for name in names if name in GRAPH and name != module}
        for module, names in GRAPH.items()
    }
    # A package's __init__ is run by importing any of its modules: not a cycle of ours.
    edges = {m: {n for n in targets if not m.startswith(f"{n}.")} for m, targets in edges.items()}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(edges[module]):
            if target in path:
                cycles.append(path[path.index(target) :] + [target])
            elif len(path) < len(edges):
                visit(target, [*path, target])

    for start in sorted(edges):
        visit(start, [start])
    assert cycles == []


SERVICE = ROOT / "service"
# Modules every feature may use: the app's wiring, the web layer, the layout, auth, the
# Prometheus instruments features record into and what workers report. Anything else of
# service/ is a feature.
SERVICE_SHARED = {
    "service",
    "service.app",
    "service.auth",
    "service.errors",
    "service.layout",
    "service.limits",
    "service.metrics",
    "service.openapi",
    "service.queue",
    "service.request_ids",
    "service.schemas",
    "service.security",
    "service.signing",
    "service.web",
    "service.workers",
}


def _feature_of(module: str) -> str | None:
    """service.review.pages -> service.review; None for a shared module."""
    if module in SERVICE_SHARED or not module.startswith("service."):
        return None
    return ".".join(module.split(".")[:2])


SERVICE_GRAPH = {
    _module_name(path): _imports(path)
    for path in sorted(SERVICE.rglob("*.py"))
    if _module_name(path) != "service.app"  # the composition root wires every feature in
}
SERVICE_MODULES = {name for name in SERVICE_GRAPH} | {
    name.rsplit(".", 1)[0] for name in SERVICE_GRAPH if "." in name
}


@pytest.mark.parametrize("module", sorted(SERVICE_GRAPH))
def test_service_module_imports_no_other_feature(module: str) -> None:
    own = _feature_of(module)
    borrowed = sorted(
        name
        for name in SERVICE_GRAPH[module]
        if name in SERVICE_MODULES and _feature_of(name) not in (None, own)
    )
    assert borrowed == []


def test_service_has_features_apart_from_shared_modules() -> None:
    features = {_feature_of(module) for module in SERVICE_GRAPH} - {None}
    assert features >= {"service.intake", "service.review", "service.admin", "service.health"}
