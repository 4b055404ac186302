"""Small trend charts as PNG: stories per day of one event type about one country.

matplotlib (Agg, no screen) draws them; Arabic and other right-to-left labels are shaped with
arabic-reshaper and ordered with python-bidi first, since matplotlib draws characters one by
one, left to right, unjoined. DejaVu Sans, which matplotlib ships, has the Arabic presentation
forms, so no system font is needed.
"""

import io
from collections.abc import Sequence
from datetime import date

from detect.model import Alert

#: Unicode ranges whose text matplotlib cannot lay out by itself.
_RTL = ("\u0590", "\u08ff")


def display(text: str) -> str:
    """`text` as matplotlib must be given it to show it right: Arabic letters joined and
    right-to-left runs reversed (left-to-right text is returned unchanged)."""
    if not any(_RTL[0] <= ch <= _RTL[1] for ch in text):
        return text
    import arabic_reshaper
    from bidi import get_display

    return str(get_display(arabic_reshaper.reshape(text)))


def trend_png(
    series: Sequence[tuple[date, int]],
    title: str,
    *,
    baseline: float | None = None,
    subtitle: str = "",
) -> bytes:
    """A bar chart of `series` (day, stories), the last day highlighted, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    axes = figure.subplots()
    days = [d for d, _ in series]
    counts = [c for _, c in series]
    colours = ["#9aa5b1"] * (len(series) - 1) + ["#c0392b"]
    axes.bar(range(len(series)), counts, color=colours)
    if baseline is not None:
        axes.axhline(baseline, color="#34495e", linestyle="--", linewidth=1)
        axes.text(0, baseline, f" baseline {baseline:g}/day", va="bottom", fontsize=8)
    axes.set_xticks(range(len(series)))
    axes.set_xticklabels([d.strftime("%d %b") for d in days], rotation=60, fontsize=7)
    axes.set_ylabel("stories per day")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(display(title), fontsize=11)
    if subtitle:
        figure.text(0.99, 0.01, display(subtitle), ha="right", va="bottom", fontsize=7)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def escalation_png(alert: Alert) -> bytes:
    """The chart of an escalation notice: its days, the spike in red, the baseline dashed."""
    from notify.render import chart_title

    e = alert.escalation
    assert e is not None, "only an escalation notice has a chart"
    return trend_png(
        [(p.day, p.stories) for p in e.history],
        chart_title(alert),
        baseline=e.baseline_per_day,
        subtitle=f"mediawatch · {e.day.isoformat()}",
    )


def sparkline(counts: Sequence[int]) -> str:
    """The series as block characters, for messages that cannot carry an image (Slack
    webhooks): ▁▂▃▄▅▆▇█."""
    blocks = "▁▂▃▄▅▆▇█"
    top = max(counts, default=0) or 1
    return "".join(blocks[min(7, round(c / top * 7))] for c in counts)
