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
    ax.set_title(title)
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


def build_capacity_report(rows: list[dict[str, Any]], result: dict[str, Any], out: Path) -> Path:
    slo = result["answer"].get("slo")
    limit = float(slo.split("<=")[1].rstrip("s")) if slo else None
    by_rate = _by(rows, "rate")
    rates = np.array(list(by_rate))
    charts = []

    offered = np.array([np.median([r["offered_per_s"] for r in g]) for g in by_rate.values()])
    through = np.array([np.median([r["throughput_per_s"] for r in g]) for g in by_rate.values()])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(offered, through, "o-", label="median over seeds")
    for r in rows:
        ax.plot(r["offered_per_s"], r["throughput_per_s"], ".", color="grey", alpha=0.5)
    top = max(offered.max(initial=0), through.max(initial=0)) * 1.05 or 1
    ax.plot([0, top], [0, top], ":", color="black", label="throughput = offered")
    k = knee(offered, through)
    if k is not None:
        ax.annotate(f"knee (rate {rates[k]:g}/s)", (offered[k], through[k]), xytext=(10, -25),
                    textcoords="offset points", arrowprops={"arrowstyle": "->"})
    charts.append(_finish(fig, ax, out, "capacity-throughput", "Throughput against offered load",
                          "offered load (queued sends per second, run average)", "throughput (sends per second)"))

    fig, ax = plt.subplots(figsize=(7, 4))
    p95 = _boxes_by_rate(ax, by_rate, rates, lambda r: None if r["latency_p95_s"] is None else r["latency_p95_s"] / 60)
    ax.plot(range(len(rates)), [np.median(v) if v else np.nan for v in p95], "o-", label="median p95")
    if limit is not None:
        ax.axhline(limit / 60, color="#d62728", ls="--", label=f"SLO {slo}")
    if result["answer"].get("rate") is not None:
        i = list(rates).index(result["answer"]["rate"])
        ax.axvline(i, color="#2ca02c", ls=":", label=f"answer: {result['answer']['rate']:g}/s")
    charts.append(_finish(fig, ax, out, "capacity-latency", "p95 latency against dispatcher rate",
                          "dispatcher rate (sends per second)", "p95 latency, due to sent (minutes)"))

    fig, ax = plt.subplots(figsize=(7, 3.5))
    _boxes_by_rate(ax, by_rate, rates, lambda r: r["dropped"] + r["unsent_at_end"])
    charts.append(_finish(fig, ax, out, "capacity-drops", "Drops against dispatcher rate",
                          "dispatcher rate (sends per second)", "dropped + unsent at end"))

    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(default=True))
    html = env.get_template("capacity.html").render(r=result, rows=rows, charts=charts,
                                                    columns=list(rows[0]) if rows else [])
    path = out / "capacity.html"
    path.write_text(html, encoding="utf-8")
    return path
