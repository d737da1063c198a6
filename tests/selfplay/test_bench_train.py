"""`goengine bench train`: its rows run seed by seed, and `--only sync` end to end (slow)."""
import json

import pytest

from bench import train as bench_train
from goengine.cli import main

pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # tests/conftest.py


def test_rows_run_seed_by_seed_so_a_drift_of_the_machine_falls_on_every_row():
    import functools

    from selfplay.training.api import LocalBackend

    calls = []

    def backend_for(name):
        calls.append(name)
        return LocalBackend()

    data = bench_train.teacher_data(64)
    spec_for = functools.partial(bench_train.zero_spec, lr=0.05)
    rows = {name: (functools.partial(backend_for, name), spec_for, 1) for name in ("a", "b")}
    results = bench_train.over_seeds(rows, data, data, range(5, 7))
    assert calls == ["a", "b", "a", "b"]
    for r in results.values():
        assert len(r["seed_curves"]) == 2
    # the seed sets the initial weights: both rows start from the same two nets, and those differ
    first = [c[0][2] for c in results["a"]["seed_curves"]]
    assert first == [c[0][2] for c in results["b"]["seed_curves"]] and first[0] != first[1]


@pytest.mark.slow
def test_bench_train_only_sync(capsys):
    assert main(["bench", "train", "--quick", "--json", "--only", "sync", "--first-seed", "3"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["seeds"] == "3-3"
    assert set(figures["curves"]) == {"local", "sync2"}
    assert figures["sync2_samples_per_s"] > 0 and figures["ceiling_speedup"] > 0
    assert not any(key.startswith(("async", "sim_", "sync2_linear")) for key in figures)
