"""Each service benchmark still runs: a seconds-long --smoke run must print its RATIO line."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bench._load import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATIO_LINE = re.compile(r"^RATIO .*\d+\.\d\d", re.MULTILINE)


class TestBenchSmoke:
    @pytest.mark.parametrize("name", ["intake", "e2e", "soak", "cpu_profile", "whatif", "delivery"])
    def test_bench_smoke_prints_its_ratio_line(self, name: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "bench", name, "--smoke"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )

        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        assert RATIO_LINE.search(done.stdout), done.stdout[-2000:]
