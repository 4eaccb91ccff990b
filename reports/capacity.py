"""capacity.html: what a sweep says about dispatch capacity."""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

from sim.files import create_bytes, create_text


def _png(fig: Any, out: Path, name: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    create_bytes(out / f"{name}.png", buffer.getvalue())
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _by(rows: list[dict[str, Any]], key: str) -> dict[float, list[dict[str, Any]]]:
    groups: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[float(r[key])].append(r)
    return dict(sorted(groups.items()))


def _finish(fig: Any, ax: Any, out: Path, name: str, title: str, xlabel: str, ylabel: str) -> tuple[str, str]:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:  # beside the plot, so no label sits on a line
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return title, _png(fig, out, name)


def _rate_ticks(ax: Any, rates: np.ndarray) -> None:
    """The probed rates, evenly spaced (a search crowds them near the answer), labels slanted so none overlap."""
    ax.set_xticks(range(len(rates)), [f"{r:.4g}" for r in rates], rotation=40, ha="right", fontsize=8)


def _boxes_by_rate(ax: Any, by_rate: dict[float, list[dict[str, Any]]], rates: np.ndarray,
                   value: Any) -> list[list[float]]:
    """One box per dispatcher rate: the spread of `value` across seeds."""
    data = [[float(v) for r in group if (v := value(r)) is not None] for group in by_rate.values()]
    ax.boxplot(data, positions=range(len(rates)), widths=0.5)
    _rate_ticks(ax, rates)
    return data


def _objective_chart(slo: dict[str, Any], by_rate: dict[float, list[dict[str, Any]]], rates: np.ndarray,
                     answer: float | None, out: Path, name: str) -> tuple[str, str]:
    """Each automation's figure against rate (median over seeds, the band from best to worst seed)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    lines = slo.get("columns") or [{"label": slo["name"], "column": slo["column"]}]
    x = np.arange(len(rates))
    seen: list[float] = []
    for k, line in enumerate(lines):
        values = [[float(r[line["column"]]) / 60 for r in g if r.get(line["column"]) is not None]
                  for g in by_rate.values()]
        med = np.array([np.median(v) if v else np.nan for v in values])
        color = f"C{k % 10}"
        ax.plot(x, med, "o-", ms=4, color=color, label=line["label"])
        if any(len(v) > 1 for v in values):
            ax.fill_between(x, [min(v) if v else np.nan for v in values], [max(v) if v else np.nan for v in values],
                            color=color, alpha=0.15, lw=0)
        seen += [v for vs in values for v in vs if v > 0]
    if slo.get("columns") and slo.get("column") and any(slo["column"] in r for g in by_rate.values() for r in g):
        pooled = [np.median([float(r[slo["column"]]) / 60 for r in g if r.get(slo["column"]) is not None] or [np.nan])
                  for g in by_rate.values()]
        ax.plot(x, pooled, ":", color="grey", label="all automations pooled (not the criterion)")
    if slo.get("limit_s") is not None:
        ax.axhline(slo["limit_s"] / 60, color="black", ls="--", lw=1, label=f"objective <= {slo['limit_s']:g}s")
    if seen and max(seen) > 20 * min(seen):  # a slow rate's hours would flatten the region near the objective
        ax.set_yscale("log")
    if answer is not None and answer in list(rates):
        ax.axvline(list(rates).index(answer), color="#2ca02c", ls=":", label=f"answer: {answer:g}/s")
    _rate_ticks(ax, rates)
    title = f"{slo['name']} of each automation against dispatcher rate" if slo.get("columns") else \
        f"{slo['name']} against dispatcher rate"
    return _finish(fig, ax, out, name, title, "dispatcher rate (sends per second)", f"{slo['name']} (minutes)")


def knee(rates: np.ndarray, throughput: np.ndarray) -> int | None:
    """The fastest rate whose throughput falls below 95% of what the fastest rate delivers, if any.

    Measured against the fastest rate, not the offered load: sends still waiting for a window or a delay
    at the end keep every rate's throughput under the offered load, and that says nothing of capacity."""
    order = np.argsort(rates)
    best = float(throughput[order[-1]])
    behind = [int(i) for i in order if best > 0 and throughput[i] < 0.95 * best]
    return behind[-1] if behind else None


COLUMNS = (("seed", "seed", "d"), ("rate", "rate/s", "g"), ("latency_p95_s", "queue p95 (s)", ".1f"),
           ("latency_p99_s", "queue p99 (s)", ".1f"), ("delivery_p95_s", "delivery p95 (s)", ".1f"),
           ("overdue_at_end", "overdue at end", "d"), ("sent", "sent", ",d"), ("dropped", "dropped", ",d"),
           ("throughput_per_s", "sends/s", ".2f"), ("wall_seconds", "wall (s)", ".1f"))
MINOR = {"latency_p99_s", "dropped", "throughput_per_s", "wall_seconds"}  # left out on a phone's width


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    try:
        return format(int(value) if fmt.endswith("d") else float(value), fmt)
    except (TypeError, ValueError):
        return str(value)


def build_capacity_report(rows: list[dict[str, Any]], result: dict[str, Any], out: Path) -> Path:
    """Charts of the runs by dispatcher rate, the answer first, and a table that fits the page."""
    slos = result.get("slos") or [{"name": "queue.p95", "limit_s": None, "column": "latency_p95_s"}]
    by_rate = _by(rows, "rate")
    rates = np.array(list(by_rate))
    charts = []

    answer_rate = result["answer"].get("rate")
    for i, slo in enumerate(slos[:3]):  # one chart per objective: each automation's figure, its limit, the answer
        charts.append(_objective_chart(slo, by_rate, rates, answer_rate, out, f"capacity-latency{i or ''}"))

    offered = np.array([np.median([r["offered_per_s"] for r in g]) for g in by_rate.values()])
    through = np.array([np.median([r["throughput_per_s"] for r in g]) for g in by_rate.values()])
    if len(rates) >= 3 and knee(rates, through) is not None:
        # Only when some rate falls behind its load over the whole run: otherwise every point sits on
        # the diagonal and the chart says nothing the latency chart does not.
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(rates, through, "o-", label="throughput (median over seeds)")
        ax.plot(rates, offered, "s--", color="grey", label="offered load")
        k = knee(rates, through)
        if k is not None:  # the text inside the plot, clear of the axis labels
            ax.annotate(f"falls behind from {rates[k]:g}/s down", (rates[k], through[k]),
                        xytext=(0.45, 0.3), textcoords="axes fraction", arrowprops={"arrowstyle": "->"})
        charts.append(_finish(fig, ax, out, "capacity-throughput", "Throughput and offered load by rate",
                              "dispatcher rate (sends per second)", "sends per second (run average)"))

    shortfall = [[r["dropped"] + r["overdue_at_end"] for r in g] for g in by_rate.values()]
    if any(v for g in shortfall for v in g):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        _boxes_by_rate(ax, by_rate, rates, lambda r: r["dropped"] + r["overdue_at_end"])
        charts.append(_finish(fig, ax, out, "capacity-shortfall", "Dropped and overdue at the end, by rate",
                              "dispatcher rate (sends per second)", "sends"))

    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(default=True))
    columns = [(key, title, fmt) for key, title, fmt in COLUMNS if rows and key in rows[0]]
    varied = [k for k in result.get("grid", {}) if k != "dispatcher.rate"]
    table = [[*(str(r.get(k, "")) for k in varied), *(_cell(r.get(key), fmt) for key, _, fmt in columns)]
             for r in sorted(rows, key=lambda x: (*(str(x.get(k)) for k in varied), float(x["rate"]), int(x["seed"])))]
    html = env.get_template("capacity.html").render(
        r=result, charts=charts, head=[*varied, *(title for _, title, _ in columns)], table=table,
        minor=[False] * len(varied) + [key in MINOR for key, _, _ in columns],
        runs=len(rows), no_shortfall=not any(v for g in shortfall for v in g))
    path = out / "capacity.html"
    create_text(path, html)
    return path
