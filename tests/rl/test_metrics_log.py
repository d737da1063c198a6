"""MetricsLog: the CSV read back by the csv module, TensorBoard scalars read back by TensorBoard's own
event reader, and the PNG read back by matplotlib."""
import csv
import math
import os

import numpy as np
import pytest

from rl.metrics_log import MetricsLog, plot, read_metrics


def _csv_rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_rows_append_widen_and_survive_a_restart(tmp_path):
    with MetricsLog(tmp_path, tensorboard=False) as log:
        log.log(generation=0, step=0, policy_loss=3.2)
        log.log(generation=1, step=100, policy_loss=2.5, value_loss=0.9, elo=50.0, elo_low=-20.0, elo_high=math.inf)
    with MetricsLog(tmp_path, tensorboard=False) as log:  # a resumed run appends
        assert log.rows_written == 2
        log.log(generation=2, step=200, policy_loss=2.0, value_loss=0.7, note="promoted")
    rows = _csv_rows(tmp_path)
    assert [r["generation"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["value_loss"] == "" and float(rows[1]["value_loss"]) == 0.9
    assert rows[2]["note"] == "promoted" and rows[0]["note"] == ""
    assert float(rows[1]["elo_high"]) == math.inf
    parsed = read_metrics(tmp_path)
    assert parsed[1]["elo"] == 50.0 and "value_loss" not in parsed[0]
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_tensorboard_scalars_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with MetricsLog(tmp_path) as log:
        for gen, loss in enumerate([3.0, 2.0, 1.5]):
            log.log(generation=gen, policy_loss=loss, elo=100.0 * gen, elo_high=math.inf)
    acc = EventAccumulator(os.path.join(tmp_path, "tensorboard"))
    acc.Reload()
    events = acc.Scalars("policy_loss")
    assert [e.step for e in events] == [0, 1, 2]
    assert [e.value for e in events] == pytest.approx([3.0, 2.0, 1.5])
    assert [e.value for e in acc.Scalars("elo")] == pytest.approx([0.0, 100.0, 200.0])
    assert "elo_high" not in acc.Tags()["scalars"]  # infinite bounds are left out of TensorBoard


def test_plot_writes_a_readable_png_with_both_panels(tmp_path):
    import matplotlib.image as mpimg

    with MetricsLog(tmp_path, tensorboard=False) as log:
        for gen in range(6):
            log.log(generation=gen, policy_loss=3.0 / (gen + 1), value_loss=1.0 - 0.1 * gen,
                    elo=80.0 * gen, elo_low=80.0 * gen - 60, elo_high=math.inf if gen == 5 else 80.0 * gen + 60)
    path = plot(tmp_path)
    assert path == os.path.join(tmp_path, "metrics.png")
    img = mpimg.imread(path)
    assert img.shape[0] == 320 and img.shape[1] == 800  # 10x4 inches at 80 dpi
    rgb = img[..., :3]
    # matplotlib's first line colour (C0, #1f77b4) is drawn in both halves: the loss and the Elo curve
    c0 = np.array([0x1F, 0x77, 0xB4]) / 255
    near = np.abs(rgb - c0).sum(axis=-1) < 0.05
    assert near[:, :400].sum() > 50 and near[:, 400:].sum() > 50


def test_plot_of_an_empty_run_still_writes_a_png(tmp_path):
    assert os.path.exists(plot(tmp_path))
