"""The restart policy of `moderation up`: when a dead child is started again."""

from __future__ import annotations

import pytest

from cli.supervise import RestartBackoff


class TestRestartBackoff:
    def test_restart_backoff_doubles_each_quick_death_up_to_the_cap(self) -> None:
        backoff = RestartBackoff(base=0.5, cap=30.0, stable_after=60.0)
        deaths, delays = 0, []
        for _ in range(9):
            deaths = backoff.deaths_in_a_row(deaths, uptime=1.0)
            delays.append(backoff.delay(deaths))
        assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]

    def test_restart_backoff_starts_over_after_a_child_stayed_up(self) -> None:
        backoff = RestartBackoff(base=0.5, cap=30.0, stable_after=60.0)
        assert backoff.deaths_in_a_row(6, uptime=59.9) == 7
        assert backoff.deaths_in_a_row(6, uptime=60.0) == 1
        assert backoff.delay(backoff.deaths_in_a_row(6, uptime=3600.0)) == 0.5

    @pytest.mark.parametrize(
        ("base", "cap", "expected"), [(1.0, 5.0, [1, 2, 4, 5]), (2, 2, [2] * 4)]
    )
    def test_restart_backoff_honours_its_base_and_cap(
        self, base: float, cap: float, expected: list[float]
    ) -> None:
        backoff = RestartBackoff(base=base, cap=cap)
        assert [backoff.delay(n) for n in range(1, 5)] == expected
