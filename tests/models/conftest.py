"""Fixtures for every model test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from models.reproducible import THREADS_VARIABLE, VARIABLE


@pytest.fixture(autouse=True)
def blas_settings_restored() -> Iterator[None]:
    """`moderation train` pins OpenBLAS in os.environ (models.reproducible). Each test starts
    without those settings and ends with the ones it found, so no later subprocess inherits a
    test's pin. (monkeypatch.delenv would not do: it records nothing for an unset variable.)"""
    names = (VARIABLE, THREADS_VARIABLE)
    found = {name: os.environ.pop(name) for name in names if name in os.environ}
    yield
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(found)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Per-category figures of the functional suites, when their tests ran."""
    from tests.models import test_functional

    if not test_functional._scored_by:
        return
    classifier = test_functional._scored_by[0]
    terminalreporter.section("functional suites (shipped model)")
    for line in test_functional.report(classifier):
        terminalreporter.write_line(line)
