"""`python -m bench NAME [ARGS...]`: runs bench/NAME.py's main() with ARGS."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    """Benchmark modules that define main()."""
    folder = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_"))


def run(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(f"usage: python -m bench NAME [ARGS...]; NAME is one of: {', '.join(available())}")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in available():
        print(f"no benchmark named {name!r}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name}")
    sys.argv = [f"bench/{name}.py", *rest]
    result = module.main()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
