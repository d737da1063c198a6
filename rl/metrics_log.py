"""Training metrics of a run: RUN_DIR/metrics.csv, TensorBoard events in RUN_DIR/tensorboard, and a PNG
of loss and Elo by generation (the curves of the AlphaGo Zero paper's Fig. 3, Silver et al. 2017).

    log = MetricsLog(run_dir)
    log.log(generation=3, step=1200, policy_loss=2.1, value_loss=0.8, elo=140.0, elo_low=60.0, elo_high=230.0)
    log.close()
    plot(run_dir)        # -> RUN_DIR/metrics.png

The CSV is the record that survives everything: one row per call, appended and flushed at once, so a
resumed run (or a crash) keeps every row written. A row may bring a column the file does not have yet;
the file is then rewritten once, atomically, with the wider header (old rows get empty cells).
"""
from __future__ import annotations

import csv
import math
import os

from goengine.atomic import atomic_open

CSV_FILE = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"
PLOT_FILE = "metrics.png"


def _read_csv(path: str) -> tuple[list[str], list[dict[str, str]]]:
    if not os.path.exists(path):
        return [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # round-trips exactly; inf and nan as 'inf', 'nan'
    return str(value)


class MetricsLog:
    """Appends metric rows to metrics.csv and mirrors the numeric ones to TensorBoard.

    `step_key` names the column used as TensorBoard's step (a row without it uses its row number).
    """

    def __init__(self, run_dir: str | os.PathLike, step_key: str = "generation", tensorboard: bool = True):
        self.run_dir = os.fspath(run_dir)
        os.makedirs(self.run_dir, exist_ok=True)
        self.path = os.path.join(self.run_dir, CSV_FILE)
        self.step_key = step_key
        self.columns, rows = _read_csv(self.path)
        self.rows_written = len(rows)
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # lazy: tensorboard is slow to import

            self._writer = SummaryWriter(log_dir=os.path.join(self.run_dir, TENSORBOARD_DIR))

    def log(self, **metrics) -> None:
        """Append one row (keyword = column); numbers also go to TensorBoard under their column name."""
        new = [k for k in metrics if k not in self.columns]
        if new:
            self._widen(self.columns + new)
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([_cell(metrics.get(c)) for c in self.columns])
            f.flush()
            os.fsync(f.fileno())
        self.rows_written += 1
        if self._writer is not None:
            step = metrics.get(self.step_key, self.rows_written - 1)
            for key, value in metrics.items():
                if key != self.step_key and isinstance(value, (int, float)) and not isinstance(value, bool):
                    if math.isfinite(value):
                        self._writer.add_scalar(key, value, int(step))
            self._writer.flush()

    def _widen(self, columns: list[str]) -> None:
        _, rows = _read_csv(self.path)
        with atomic_open(self.path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        self.columns = columns

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> "MetricsLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, float | str]]:
    """The rows of metrics.csv, numbers as floats (empty cells left out)."""
    _, rows = _read_csv(os.path.join(os.fspath(run_dir), CSV_FILE))
    out = []
    for row in rows:
        parsed: dict[str, float | str] = {}
        for key, text in row.items():
            if text in ("", None):
                continue
            try:
                parsed[key] = float(text)
            except ValueError:
                parsed[key] = text
        out.append(parsed)
    return out


def save_figure(fig, path: str) -> str:
    """Write a matplotlib figure as PNG atomically and close it; returns `path`."""
    import matplotlib.pyplot as plt

    try:
        with atomic_open(path, "wb") as f:
            fig.savefig(f, format="png", dpi=80)
    finally:
        plt.close(fig)
    return path


def _series(rows, x_key: str, y_key: str) -> tuple[list[float], list[float]]:
    pairs = [(r[x_key], r[y_key]) for r in rows if isinstance(r.get(x_key), float) and isinstance(r.get(y_key), float)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot(run_dir: str | os.PathLike, x_key: str = "generation") -> str:
    """Draw every column whose name contains "loss" (left) and "elo" with its elo_low/elo_high band
    (right) against `x_key`; write RUN_DIR/metrics.png and return its path."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a training machine
    import matplotlib.pyplot as plt

    run_dir = os.fspath(run_dir)
    rows = read_metrics(run_dir)
    columns = sorted({k for r in rows for k in r})
    fig, (ax_loss, ax_elo) = plt.subplots(1, 2, figsize=(10, 4))
    for key in columns:
        if "loss" in key:
            xs, ys = _series(rows, x_key, key)
            ax_loss.plot(xs, ys, marker=".", label=key)
    ax_loss.set_xlabel(x_key)
    ax_loss.set_ylabel("loss")
    if any("loss" in k for k in columns):
        ax_loss.legend()
    xs, elo = _series(rows, x_key, "elo")
    if xs:
        ax_elo.plot(xs, elo, marker="o", label="Elo (generation 0 = 0)")
        band = [(r[x_key], r["elo_low"], r["elo_high"]) for r in rows
                if all(isinstance(r.get(k), float) for k in (x_key, "elo_low", "elo_high"))]
        if band:
            # an infinite bound (a match won or lost without exception) is drawn at the plot's edge
            finite = [v for _, lo, hi in band for v in (lo, hi) if math.isfinite(v)] + elo
            top, bottom = max(finite) + 100, min(finite) - 100
            ax_elo.fill_between([b[0] for b in band], [max(b[1], bottom) for b in band],
                                [min(b[2], top) for b in band], alpha=0.25, label="95% interval")
        ax_elo.legend()
    ax_elo.set_xlabel(x_key)
    ax_elo.set_ylabel("Elo")
    fig.tight_layout()
    return save_figure(fig, os.path.join(run_dir, PLOT_FILE))
