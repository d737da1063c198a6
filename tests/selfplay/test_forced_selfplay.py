"""Self-play with KataGo's forced playouts and policy target pruning (SelfPlayConfig.forced_playouts,
`train zero --forced-playouts K`): full searches force and record their pruned visits, fast searches of
playout-cap randomisation do neither, Gumbel refuses them, and the command line runs end to end."""
import numpy as np
import pytest

from goengine.cli import main
from goengine.mcts import _tree as T
from goengine.mcts.search import Search
from selfplay import worker as worker_module
from selfplay.pipelines.zero import ZeroRun
from selfplay.worker import SelfPlayWorker
from tests.selfplay.test_worker import LeafFnEvaluator, config, replay_checks, tiny_weights

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def test_full_searches_record_pruned_visits_and_fast_ones_are_not_forced(monkeypatch):
    seen = []  # (plain counts, pruned counts, k) of each call, the real method's answer
    pruned_visit_counts = worker_module.pruned_visit_counts

    def spy(search):
        pruned = pruned_visit_counts(search)
        seen.append((search.visit_counts(), pruned, float(search.params[T.FORCED_K])))
        return pruned

    monkeypatch.setattr(worker_module, "pruned_visit_counts", spy)
    forced_fast = []
    collect = Search.collect

    def collect_spy(search, n, root_children=None):
        forced_fast.append(float(search.params[T.FORCED_K]))
        return collect(search, n, root_children)

    monkeypatch.setattr(Search, "collect", collect_spy)
    worker = SelfPlayWorker(config(visits=24, fast_visits=3, full_search_prob=0.5, forced_playouts=2.0),
                            tiny_weights(), 0)
    worker.evaluator = LeafFnEvaluator()
    records = worker.play_games(4)
    full = np.concatenate([r.full_search for r in records])
    assert len(seen) == full.sum() and 0.3 < full.mean() < 0.7
    assert {k for _, _, k in seen} == {2.0}
    assert set(forced_fast) == {0.0, 2.0}  # fast searches ran with k = 0
    targets = np.concatenate([r.policy_targets[r.full_search] for r in records])
    expected = np.array([pruned / pruned.sum() for _, pruned, _ in seen])
    # every recorded target is one of the pruned count vectors, normalised
    for row in targets:
        assert np.abs(expected - row).max(axis=1).min() < 1e-6
    given_back = np.array([plain.sum() - pruned.sum() for plain, pruned, _ in seen])
    assert (given_back >= 0).all() and (given_back > 0).mean() > 0.5
    for r in records:
        replay_checks(r)
        np.testing.assert_allclose(r.policy_targets[r.full_search].sum(1), 1.0, atol=1e-5)


def test_forced_playouts_are_checked():
    with pytest.raises(ValueError, match="forced_playouts"):
        config(forced_playouts=-1.0)
    with pytest.raises(ValueError, match="Gumbel"):
        config(forced_playouts=2.0, gumbel=True)


TINY = ["--board-size", "5", "--net", "2x16", "--visits", "12", "--games", "6", "--parallel-games", "3",
        "--steps", "4", "--batch-size", "32", "--gate-games", "0", "--window", "100", "--seed", "5",
        "--workers", "0", "--threads", "1", "--no-progress"]


def test_train_zero_with_forced_playouts_runs_and_resumes(tmp_path, capsys, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main(["train", "zero", "--out", run_dir, *TINY, "--forced-playouts", "2", "--generations", "1"]) == 0
    assert ZeroRun.open(run_dir, board_size=5).config.selfplay.forced_playouts == 2.0  # as resume reads it
    assert main(["train", "zero", "--out", run_dir, "--resume", "--generations", "2", "--workers", "0",
                 "--no-progress"]) == 0
    assert "2 generations, 12 self-play games" in capsys.readouterr().out
    for flags, message in ((["--forced-playouts", "-2"], "--forced-playouts must be"),
                           (["--forced-playouts", "2", "--gumbel"], "Gumbel")):
        code = main(["train", "zero", "--out", str(tmp_path / "bad"), *TINY, *flags, "--generations", "1"])
        err = capsys.readouterr().err.strip()
        assert code != 0 and len(err.splitlines()) == 1 and message in err, err
