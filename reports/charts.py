"""The report's charts (matplotlib, Agg): each a function of the run's files.

Every function takes the loaded summary and time series and returns a
Figure; `draw` gives charts as PNG bytes. `reports.painters` runs it in
processes started ahead, so that only they import matplotlib.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

SHADE = {"paused": ("#f4b400", 0.18), "ended": ("#9e9e9e", 0.22)}


def _x(ts: dict[str, Any], offsets: Any) -> np.ndarray:
    """Offsets from the run's start as matplotlib dates (days since 1970), for a local-time axis."""
    return (float(ts.get("start_epoch_s", 0.0)) + np.asarray(offsets, dtype=float)) / 86400.0


def _axis_time(ax: Any, ts: dict[str, Any]) -> None:
    """Local wall-clock time in the scenario's zone: the 09:00 windows are where the eye looks."""
    zone = ZoneInfo(ts.get("timezone", "UTC"))
    locator = mdates.AutoDateLocator(tz=zone, minticks=5, maxticks=12)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator, tz=zone, formats=["%Y", "%b", "%a %d", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%Y", "%b", "%a %d", "%H:%M", "%H:%M"]))  # weekday and clock time
    ax.set_xlabel(f"local time ({zone.key})")
    ax.set_xlim(*_x(ts, [0.0, ts["duration_s"]]))


def _openings(ax: Any, ts: dict[str, Any]) -> None:
    """A faint line where a send window opens (a backlog drains from each)."""
    for i, at in enumerate(ts.get("window_openings_s", [])):
        ax.axvline(float(_x(ts, at)), color="#2ca02c", ls="-", lw=0.8, alpha=0.35,
                   label="send window opens" if i == 0 else None)


def backlog(summary: dict[str, Any], ts: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 4))
    end = ts["duration_s"]
    x = _x(ts, ts["edges_s"][1:])
    for name, a in ts["automations"].items():
        (line,) = ax.step(x, a["pending"], where="post", label=name)
        states = a["states"] + [(end, None)]
        for (t, state), (t_next, _) in itertools.pairwise(states):
            if state in SHADE:
                color, alpha = SHADE[state]
                ax.axvspan(*_x(ts, [t, t_next]), color=color, alpha=alpha, lw=0)
            if t > 0:
                ax.axvline(float(_x(ts, t)), color=line.get_color(), ls=":", lw=1)
                ax.annotate(state, (float(_x(ts, t)), 0), xytext=(2, 2), textcoords="offset points", fontsize=7,
                            color=line.get_color(), rotation=90, va="bottom")
    ax.set_ylabel("pending entries (due or not)")
    _openings(ax, ts)
    ax.legend(loc="upper right", fontsize=8)
    _axis_time(ax, ts)
    return fig


def throughput(summary: dict[str, Any], ts: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 3.6))
    edges = _x(ts, ts["edges_s"])
    bottom = np.zeros(len(edges) - 1)
    for name, a in ts["automations"].items():  # one filled step shape per automation, not a bar per bucket
        y = np.array(a["sends_per_s"])
        ax.stairs(bottom + y, edges, baseline=bottom.copy(), fill=True, label=f"{name}: mean", lw=0)
        bottom += y
    ax.stairs(ts["peak_per_s"], edges, color="black", lw=0.8, alpha=0.6,
              label=f"busiest {ts['tick_s']:g} s in the bucket (all)")
    ax.axhline(ts["rate"], color="#d62728", ls="--", lw=1.5, label=f"capacity {ts['rate']:g}/s")
    _openings(ax, ts)
    ax.set_ylabel("sends per second")
    ax.set_ylim(0, max(ts["rate"], max(ts["peak_per_s"], default=0)) * 1.08 or 1)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, ncol=4, frameon=False)
    _axis_time(ax, ts)
    return fig


def latency(summary: dict[str, Any], ts: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 3.6))
    x = _x(ts, np.array(ts["edges_s"][:-1]) + ts["bucket_s"] / 2)
    for key, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
        y = np.array([np.nan if v is None else v for v in ts["latency_s"][key]], dtype=float)
        ax.plot(x, y / 60, style, marker=".", ms=4, label=key)
    ax.set_ylabel("queue latency, due to handed over (min)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_ylim(bottom=0)
    _axis_time(ax, ts)
    return fig


def outcomes(summary: dict[str, Any], ts: dict[str, Any]) -> Figure:
    names = list(summary["automations"])
    autos = summary["automations"]
    reasons = sorted({r for a in autos.values() for r, n in a["dropped"].items() if n})
    columns: list[tuple[str, list[float]]] = [
        ("sent", [autos[n]["sent"] for n in names]),
        ("failed soft", [autos[n]["failed"]["soft"] for n in names]),
        ("failed hard", [autos[n]["failed"]["hard"] for n in names]),
        *((f"dropped {r}", [autos[n]["dropped"].get(r, 0) for n in names]) for r in reasons),
        ("cancelled", [autos[n]["cancelled"] for n in names]),
        ("pending", [autos[n]["pending"] for n in names]),
    ]
    fig, ax = plt.subplots(figsize=(10, 0.6 + 0.55 * max(len(names), 1)))
    left = np.zeros(len(names))
    for label, column in columns:
        values = np.asarray(column, dtype=np.float64)
        if values.sum() == 0:
            continue
        ax.barh(names, values, left=left, label=label)
        left += values
    ax.set_xlabel("entries")
    if ax.get_legend_handles_labels()[0]:  # nothing queued: no bars, and no legend to warn about
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)  # clear of the axis label
    ax.invert_yaxis()
    return fig


def engagement(summary: dict[str, Any], ts: dict[str, Any]) -> Figure:
    names = list(summary["automations"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    x = np.arange(len(names))
    opens = [summary["automations"][n]["open_rate"] * 100 for n in names]
    clicks = [summary["automations"][n]["click_rate"] * 100 for n in names]
    left.bar(x - 0.2, opens, 0.4, label="open rate")
    left.bar(x + 0.2, clicks, 0.4, label="click rate")
    left.set_xticks(x, names, fontsize=8)
    left.set_ylabel("% of succeeded sends")
    left.legend(fontsize=8)
    accepted = [summary["automations"][n]["triggered"] for n in names]
    ignored = [sum(summary["automations"][n]["ignored"].values()) for n in names]
    right.bar(x - 0.2, accepted, 0.4, label="triggers accepted")
    right.bar(x + 0.2, ignored, 0.4, label="triggers ignored")
    right.set_xticks(x, names, fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def little(summary: dict[str, Any], ts: dict[str, Any]) -> Figure:
    law = ts["little"]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    values = [law["mean_backlog"], law["throughput_x_latency"]]
    ax.bar(["mean backlog L\n(measured)", "throughput x mean latency\n(lambda x W)"], values,
           color=["#1f77b4", "#ff7f0e"])
    for i, v in enumerate(values):
        ax.annotate(f"{v:.3g}", (i, v), ha="center", va="bottom")
    ax.set_ylabel("entries waiting")
    return fig


DRAW: dict[str, Callable[[dict[str, Any], dict[str, Any]], Figure]] = {
    "throughput": throughput, "backlog": backlog, "latency": latency, "outcomes": outcomes,
    "engagement": engagement, "little": little,
}  # the titles and the order are `reports.painters.CHARTS` and `SELF_CHECKS`


def draw(keys: list[str], summary: dict[str, Any], ts: dict[str, Any]) -> dict[str, bytes]:
    """The PNG bytes of each chart in `keys`."""
    out = {}
    for key in keys:
        fig = DRAW[key](summary, ts)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        out[key] = buffer.getvalue()
    return out


def warm() -> None:
    """Load what a first chart would (the font, the Agg canvas), before any chart is asked for."""
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_title("0")
    fig.savefig(io.BytesIO(), format="png", dpi=20)
    plt.close(fig)
