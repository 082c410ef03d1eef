"""The admin policy page's drift chart: server-rendered inline SVG, no script, no CDN.

Top panel: PSI per label over the last 31 days (each day the PSI of the 7 days ending then),
with the alert level 0.2. Bottom panel: the moderators' override rate per day, with its 30-day
mean and the alert level (twice the mean). Each series is a group with an id (`psi-<label>`,
`override-rate`, `override-mean`) and a <title>, so the page can be read and tested.

Drawn by hand (a few polylines and text): matplotlib, which the model cards use, took 3 to 5 s
for the first chart in a web process (font discovery) against about a millisecond here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from core.drift import OVERRIDE_ALERT_FACTOR, PSI_ALERT

WIDTH, PANEL, GAP, LEFT, RIGHT, TOP = 720, 130, 70, 56, 16, 52
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
ALERT = "#b00020"


def _number(value: float) -> str:
    return f"{value:.3g}"


class _Panel:
    """One plot area: days ago (0 at the right) across, values from 0 up to `top` up."""

    def __init__(self, y0: float, days: int, top: float) -> None:
        self.y0, self.days, self.top = y0, max(days, 2), top if top > 0 else 1.0

    def x(self, days_ago: int) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (self.days - 1 - days_ago) / (self.days - 1)

    def y(self, value: float) -> float:
        return self.y0 + PANEL * (1 - min(value, self.top) / self.top)

    def frame(self, title: str, unit: str, title_gap: int = 8) -> list[str]:
        right, bottom = WIDTH - RIGHT, self.y0 + PANEL
        parts = [
            f'<text x="{LEFT}" y="{self.y0 - title_gap}" font-weight="bold">{escape(title)}</text>',
            f'<rect x="{LEFT}" y="{self.y0}" width="{right - LEFT}" height="{PANEL}" '
            'fill="none" stroke="#999"/>',
            f'<text x="{LEFT - 6}" y="{bottom}" text-anchor="end">0</text>',
            f'<text x="{LEFT - 6}" y="{self.y0 + 10}" text-anchor="end">{_number(self.top)}</text>',
            f'<text x="12" y="{self.y0 + PANEL / 2}" transform="rotate(-90 12 '
            f'{self.y0 + PANEL / 2})" text-anchor="middle">{escape(unit)}</text>',
        ]
        for days_ago in range(0, self.days, 5):
            parts.append(
                f'<text x="{self.x(days_ago):.1f}" y="{bottom + 14}" text-anchor="middle">'
                f"{-days_ago}</text>"
            )
        return parts

    def level(self, value: float, colour: str, gid: str, name: str, dashed: bool) -> str:
        y = self.y(value)
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        return (
            f'<g id="{gid}"><title>{escape(name)}: {_number(value)}</title>'
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{colour}"{dash}/><text x="{WIDTH - RIGHT - 4}" y="{y - 3:.1f}" '
            f'text-anchor="end" fill="{colour}">{escape(name)} {_number(value)}</text></g>'
        )


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of days with a value (a gap where there is none), oldest first."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for days_ago in reversed(range(len(values))):
        value = values[days_ago]
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((days_ago, value))
    if current:
        runs.append(current)
    return runs


def drift_chart(
    psi: Mapping[str, Sequence[float | None]],
    override_days: Sequence[Mapping[str, Any]],
    override_mean: float | None,
) -> Markup:
    """The chart as an <svg> element; `psi` and `override_days` newest first (days ago 0..n)."""
    days = max([len(values) for values in psi.values()] + [len(override_days), 2])
    drawn = [v for values in psi.values() for v in values if v is not None]
    psi_panel = _Panel(TOP, days, max([PSI_ALERT * 1.5, *drawn]) * 1.1)
    # The legend goes between the title and the plot, where no line can cross it.
    parts = psi_panel.frame("Score drift per label (PSI of the last 7 days)", "PSI", title_gap=28)
    parts.append(psi_panel.level(PSI_ALERT, ALERT, "psi-alert", "alert above", dashed=True))
    legend = []
    for index, (label, values) in enumerate(psi.items()):
        colour = COLOURS[index % len(COLOURS)]
        runs = _segments(values)
        legend.append((label if runs else f"{label} (no ref.)", colour))
        if not runs:
            continue
        lines = []
        for run in runs:
            points = " ".join(f"{psi_panel.x(d):.1f},{psi_panel.y(v):.1f}" for d, v in run)
            lines.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            lines += [
                f'<circle cx="{psi_panel.x(d):.1f}" cy="{psi_panel.y(v):.1f}" r="2" '
                f'fill="{colour}"/>'
                for d, v in run
            ]
        latest = next((v for v in values if v is not None), None)
        title = f"{label}: PSI {_number(latest)} now" if latest is not None else label
        parts.append(
            f'<g id="psi-{escape(label)}"><title>{escape(title)}</title>{"".join(lines)}</g>'
        )
    for index, (name, colour) in enumerate(legend):
        x = LEFT + index * 160
        parts.append(
            f'<rect x="{x}" y="{TOP - 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{TOP - 9}">{escape(name)}</text>'
        )

    rates = [
        (k, day["overridden"] / day["decided"])
        for k, day in enumerate(override_days)
        if day.get("decided")
    ]
    highest = max([rate for _, rate in rates] + [(override_mean or 0) * OVERRIDE_ALERT_FACTOR])
    rate_panel = _Panel(TOP + PANEL + GAP, days, max(highest * 1.1, 0.05))
    parts += rate_panel.frame("Moderator override rate per day", "overridden / decided")
    if rates:
        width = (WIDTH - LEFT - RIGHT) / days * 0.6
        bars = "".join(
            f'<rect x="{rate_panel.x(k) - width / 2:.1f}" y="{rate_panel.y(rate):.1f}" '
            f'width="{width:.1f}" height="{rate_panel.y(0) - rate_panel.y(rate):.1f}" '
            f'fill="#4c72b0"><title>{k} days ago: {_number(rate)}</title></rect>'
            for k, rate in rates
        )
        parts.append(f'<g id="override-rate"><title>override rate per day</title>{bars}</g>')
    if override_mean is not None:
        parts.append(
            rate_panel.level(override_mean, "#333", "override-mean", "30-day mean", dashed=False)
        )
        if override_mean > 0:
            parts.append(
                rate_panel.level(
                    OVERRIDE_ALERT_FACTOR * override_mean,
                    ALERT,
                    "override-alert",
                    "alert (twice the mean)",
                    dashed=True,
                )
            )
    bottom = rate_panel.y0 + PANEL
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{bottom + 30}" text-anchor="middle">'
        "days ago</text>"
    )
    height = bottom + 40
    return Markup(  # noqa: S704 - built from numbers and escaped text only
        f'<svg role="img" aria-labelledby="drift-chart-caption" viewBox="0 0 {WIDTH} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">'
        + "".join(parts)
        + "</svg>"
    )
