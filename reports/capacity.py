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


def _png(fig: Any, out: Path, name: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    (out / f"{name}.png").write_bytes(buffer.getvalue())
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _by(rows: list[dict[str, Any]], key: str) -> dict[float, list[dict[str, Any]]]:
    groups: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[float(r[key])].append(r)
    return dict(sorted(groups.items()))


def _finish(fig: Any, ax: Any, out: Path, name: str, title: str, xlabel: str, ylabel: str) -> tuple[str, str]:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return title, _png(fig, out, name)


def _boxes_by_rate(ax: Any, by_rate: dict[float, list[dict[str, Any]]], rates: np.ndarray,
                   value: Any) -> list[list[float]]:
    """One box per dispatcher rate: the spread of `value` across seeds."""
    data = [[float(v) for r in group if (v := value(r)) is not None] for group in by_rate.values()]
    ax.boxplot(data, positions=range(len(rates)), widths=0.5)
    ax.set_xticks(range(len(rates)), [f"{r:g}" for r in rates])
    return data


def knee(offered: np.ndarray, throughput: np.ndarray) -> int | None:
    """First point (by offered load) where throughput falls below 95% of offered."""
    order = np.argsort(offered)
    for i in order:
        if offered[i] > 0 and throughput[i] < 0.95 * offered[i]:
            return int(i)
    return None


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
    first = slos[0]
    by_rate = _by(rows, "rate")
    rates = np.array(list(by_rate))
    charts = []

    fig, ax = plt.subplots(figsize=(7, 4))
    column, name = first["column"], first["name"]
    lat = _boxes_by_rate(ax, by_rate, rates, lambda r: None if r[column] is None else r[column] / 60)
    ax.plot(range(len(rates)), [np.median(v) if v else np.nan for v in lat], "o-", label=f"median {name}")
    if first["limit_s"] is not None:
        ax.axhline(first["limit_s"] / 60, color="#d62728", ls="--", label=f"SLO {name} <= {first['limit_s']:g}s")
    answer_rate = result["answer"].get("rate")
    finite = [x for v in lat for x in v if x > 0]
    if finite and max(finite) > 20 * min(finite):  # a slow rate's hours would flatten the region near the SLO
        ax.set_yscale("log")
    if answer_rate is not None and answer_rate in list(rates):
        ax.axvline(list(rates).index(answer_rate), color="#2ca02c", ls=":", label=f"answer: {answer_rate:g}/s")
    charts.append(_finish(fig, ax, out, "capacity-latency", f"{name} latency against dispatcher rate",
                          "dispatcher rate (sends per second)", f"{name} latency (minutes)"))

    offered = np.array([np.median([r["offered_per_s"] for r in g]) for g in by_rate.values()])
    through = np.array([np.median([r["throughput_per_s"] for r in g]) for g in by_rate.values()])
    if len(rates) >= 3 and knee(offered, through) is not None:
        # Only when some rate falls behind its load over the whole run: otherwise every point sits on
        # the diagonal and the chart says nothing the latency chart does not.
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(rates, through, "o-", label="throughput (median over seeds)")
        ax.plot(rates, offered, "s--", color="grey", label="offered load")
        k = knee(offered, through)
        if k is not None:
            ax.annotate(f"throughput below offered from {rates[k]:g}/s down", (rates[k], through[k]),
                        xytext=(10, -25), textcoords="offset points", arrowprops={"arrowstyle": "->"})
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
    path.write_text(html, encoding="utf-8")
    return path
