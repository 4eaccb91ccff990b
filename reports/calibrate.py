"""`dripsim calibrate`: the behaviour model fitted to a real send log.

A send log is CSV (optionally gzipped) or Parquet with columns `time`,
`email`, `automation`, `event` (`sent`, `opened`, `clicked`, `bounced`,
`unsubscribed`), or dripsim's own `events.csv.gz` / `events.parquet`
(`subscriber` and `kind` instead of `email` and `event`). Each open is
matched to the latest send of the same automation to the same address
before it, each click to the latest open of that send; per automation this
gives the open and click probabilities (per send) and the delays. The
delays are summarised three ways: the exponential mean dripsim draws from
by default, a lognormal (median and sigma of the log), and the empirical
quantiles, which the scenario format takes as is
(`open_after = { quantiles = [...] }`).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

QUANTILES = 11  # 0%, 10%, ... 100%
_DRIPSIM = {"subscriber": "email", "kind": "event"}


class LogError(ValueError):
    """A send log that cannot be read: one line naming the file and what is wrong."""


@dataclass(frozen=True)
class Delays:
    values: np.ndarray  # seconds

    def summary(self) -> dict[str, Any]:
        v = self.values[self.values >= 0]
        if not len(v):
            return {"n": 0}
        positive = v[v > 0]
        logs = np.log(positive) if len(positive) else np.zeros(1)
        return {"n": len(v), "mean_s": round(float(v.mean()), 1),
                "lognormal": {"median_s": round(float(np.exp(logs.mean())), 1), "sigma": round(float(logs.std()), 3)},
                "quantiles_s": [round(float(q), 1) for q in np.quantile(v, np.linspace(0, 1, QUANTILES))]}


def read_log(path: Path, limit: int | None = None) -> dict[str, np.ndarray]:
    """time (POSIX seconds), automation, email, event as numpy arrays, in file order; a batch at a time,
    refused past `limit` bytes read (default: an eighth of the memory a run may use)."""
    import pyarrow as pa

    from sim import tables
    from sim.budget import default_limit

    limit = default_limit() // 8 if limit is None else limit
    parts: dict[str, list[np.ndarray]] = {"time": [], "automation": [], "email": [], "event": []}
    read, rows = 0, 0
    try:
        for raw in tables.batches(path, text=lambda name: name != "time", what="send log"):
            columns = {_DRIPSIM.get(c, c): c for c in raw.schema.names}
            missing = [c for c in ("time", "email", "automation", "event") if c not in columns]
            if missing:
                raise LogError(f"{path}: missing column {missing[0]!r} (a send log has time, email, automation, "
                               "event; dripsim's own events.csv.gz works too)")
            batch = tables.typed(raw, path, {columns["time"]: tables.TIME, **{columns[k]: tables.TEXT for k in (
                "email", "automation", "event")}})
            read += batch.nbytes
            if read > limit:
                raise LogError(f"{path}: more than {limit / 2**20:,.0f} MB read ({rows:,} rows); "
                               "calibrate from a sample of the log")
            time = batch.column(batch.schema.get_field_index(columns["time"]))
            if time.type.tz is None:
                raise LogError(f"{path}: row {rows + 2}, column 'time': an ISO time needs its UTC offset")
            if time.null_count:
                first = int(np.flatnonzero(np.asarray(time.is_null()))[0])
                raise LogError(f"{path}: row {rows + first + 2}, column 'time': empty")
            stamps = time.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
            parts["time"].append(stamps / tables.UNITS[time.type.unit])
            for key in ("automation", "email", "event"):
                values = batch.column(batch.schema.get_field_index(columns[key])).to_pylist()
                parts[key].append(np.asarray(values, dtype=object))
            rows += len(batch)
    except tables.TableError as err:
        raise LogError(str(err).replace("expected ISO times with an offset", "expected ISO 8601 times with an "
                                        "offset")) from None
    if not rows:
        raise LogError(f"{path}: no rows")
    return {k: np.concatenate(v) for k, v in parts.items()}


def _match(earlier_t: np.ndarray, earlier_who: np.ndarray, later_t: np.ndarray, later_who: np.ndarray) -> np.ndarray:
    """For each later row, the index of the latest earlier row of the same address at or before it (-1: none)."""
    if not len(earlier_t) or not len(later_t):
        return np.full(len(later_t), -1)
    _, codes = np.unique(np.concatenate([earlier_who, later_who]).astype(str), return_inverse=True)
    e_code, l_code = codes[:len(earlier_t)], codes[len(earlier_t):]
    origin = min(earlier_t.min(), later_t.min())
    span = max(earlier_t.max(), later_t.max()) - origin + 1.0
    e_key = e_code * span + (earlier_t - origin)
    order = np.argsort(e_key, kind="stable")
    at = np.searchsorted(e_key[order], l_code * span + (later_t - origin), side="right") - 1
    found = order[np.clip(at, 0, None)]
    ok = (at >= 0) & (e_code[found] == l_code)
    return np.where(ok, found, -1)


def fit(log: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Per automation, and `all` of them pooled: sends, open and click probabilities, and the delays."""
    out: dict[str, dict[str, Any]] = {}
    pooled: dict[str, list[np.ndarray]] = {"open": [], "click": []}
    totals = {"sent": 0, "opened": 0, "clicked": 0}
    names = np.asarray(["" if a is None else str(a) for a in log["automation"].tolist()])
    order = np.argsort(names, kind="stable")  # one sort, then each automation's rows in file order
    labels, starts = np.unique(names[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]
    event = np.asarray(["" if e is None else str(e) for e in log["event"].tolist()])
    for name, lo, hi in zip(labels.tolist(), starts.tolist(), ends.tolist(), strict=True):
        if name == "":
            continue
        mine = order[lo:hi]
        rows = {e: mine[event[mine] == e] for e in ("sent", "opened", "clicked")}
        sent_t, sent_who = log["time"][rows["sent"]], log["email"][rows["sent"]]
        if not len(sent_t):
            continue
        open_of = _match(sent_t, sent_who, log["time"][rows["opened"]], log["email"][rows["opened"]])
        first_open: dict[int, float] = {}  # send -> time of its first open
        for send, t in zip(open_of.tolist(), log["time"][rows["opened"]].tolist(), strict=True):
            if send >= 0 and (send not in first_open or t < first_open[send]):
                first_open[send] = t
        opened = np.array(sorted(first_open), dtype=np.int64)
        open_t = np.array([first_open[i] for i in opened.tolist()])
        click_of = _match(open_t, sent_who[opened], log["time"][rows["clicked"]], log["email"][rows["clicked"]])
        clicked = {int(i): t for i, t in zip(click_of.tolist(), log["time"][rows["clicked"]].tolist(), strict=True)
                   if i >= 0}
        click_delay = np.array([clicked[i] - open_t[i] for i in sorted(clicked)])
        open_delay = open_t - sent_t[opened]
        pooled["open"].append(open_delay)
        pooled["click"].append(click_delay)
        n = len(sent_t)
        totals["sent"] += n
        totals["opened"] += len(opened)
        totals["clicked"] += len(clicked)
        out[name] = {"sent": n, "open": round(len(opened) / n, 4), "click": round(len(clicked) / n, 4),
                     "open_after": Delays(open_delay).summary(), "click_after": Delays(click_delay).summary()}
    if totals["sent"]:
        out["all"] = {"sent": totals["sent"], "open": round(totals["opened"] / totals["sent"], 4),
                      "click": round(totals["clicked"] / totals["sent"], 4),
                      "open_after": Delays(np.concatenate(pooled["open"])).summary(),
                      "click_after": Delays(np.concatenate(pooled["click"])).summary()}
    return out


def _duration(seconds: float) -> str:
    return f'"{seconds:.0f}s"'


SHOWN = 20  # automations named in the pasted table's comment (all of them are in calibration.json)


def toml_string(text: str) -> str:
    """`text` as a TOML basic string: data, never code. Anything not printable (a line break, an escape,
    a control or format character) is written as its \\u escape, so no name can end the line it is on."""
    body = "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04X}" if ord(c) < 0x10000
                   else f"\\U{ord(c):08X}" for c in text)
    return f'"{body}"'


def behaviour_toml(fitted: dict[str, dict[str, Any]]) -> str:
    """A `[behaviour]` table to paste into a scenario: the pooled fit, per automation in comments."""
    a = fitted["all"]
    names = [name for name in fitted if name != "all"]
    shown = ", ".join(f"{toml_string(name)} open {fitted[name]['open']:.3f} click {fitted[name]['click']:.3f}"
                      for name in names[:SHOWN])
    more = f" and {len(names) - SHOWN:,} more (calibration.json)" if len(names) > SHOWN else ""
    lines = ["[behaviour]", f"# fitted from {a['sent']:,} sends; per automation: {shown}{more}",
             f"open = {a['open']:.4f}", f"click = {min(a['click'], a['open']):.4f}"]
    for key in ("open_after", "click_after"):
        d = a[key]
        if d["n"] >= 2:
            lines.append(f"# {key}: exponential mean {d['mean_s']:.0f}s; lognormal median "
                         f"{d['lognormal']['median_s']:.0f}s sigma {d['lognormal']['sigma']}")
            lines.append(f"{key} = {{ quantiles = [{', '.join(_duration(q) for q in d['quantiles_s'])}] }}")
    return "\n".join(lines) + "\n"


def plot(fitted: dict[str, dict[str, Any]], out: Path) -> Path:
    """The open delays' empirical distribution against the exponential and lognormal fits."""
    d = fitted["all"]["open_after"]
    fig, ax = plt.subplots(figsize=(7, 4))
    if not d["n"]:  # no open matched a send (opens before sends, clicks without opens, one row)
        ax.text(0.5, 0.5, "no open in the log matched an earlier send:\nno open delay to fit",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return _save(fig, out)
    q = np.array(d["quantiles_s"])
    probs = np.linspace(0, 1, QUANTILES)
    ax.plot(q / 3600, probs, "o-", label="data (quantiles)")
    x = np.linspace(0, max(q.max(), 1.0), 200)
    ax.plot(x / 3600, 1 - np.exp(-x / max(d["mean_s"], 1e-9)), "--", label=f"exponential, mean {d['mean_s']:.0f}s")
    med, sigma = d["lognormal"]["median_s"], max(d["lognormal"]["sigma"], 1e-9)
    z = (np.log(np.maximum(x, 1e-9)) - math.log(max(med, 1e-9))) / (sigma * math.sqrt(2))
    ax.plot(x / 3600, [0.5 * (1 + math.erf(v)) for v in z.tolist()], ":",
            label=f"lognormal, median {med:.0f}s, sigma {sigma:.2f}")
    ax.set_xlabel("delay from send to first open (hours)")
    ax.set_ylabel("share of opens")
    ax.legend(fontsize=8)
    return _save(fig, out)


def _save(fig: Any, out: Path) -> Path:
    from sim.files import create_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    path = out / "calibration-open-delay.png"
    create_bytes(path, buffer.getvalue())
    return path
