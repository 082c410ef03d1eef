"""Every environment variable the service reads is in the README's configuration table."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "variable", sorted(field.alias or name.upper() for name, field in Settings.model_fields.items())
)
def test_variable_has_a_row_in_the_readme(variable: str) -> None:
    assert f"| `{variable}`" in README or f", `{variable}`" in README
