"""`OrtEvaluator` (ONNX Runtime fp32 / int8) against `NetEvaluator` (torch), the calibration sources it
picks, its reservoir sample, and self-play with `inference="ort"` / `"ort-int8"` end to end: the worker,
its session rebuilt per weights version, and the two command lines' --inference flag."""
import numpy as np
import pytest
import torch

from bench.features import leaf_batch, sample_positions
from goengine.cli import main
from goengine.features import extract
from nets.go.presets import zero_config
from nets.go.zero_resnet import ZeroResNet
from rl.alphago_zero.evaluator import NetEvaluator
from rl.alphago_zero.ort_evaluator import (MIN_RECENT_POSITIONS, OrtEvaluator, PlanesReservoir, position_planes,
                                           random_game_planes)
from rl.records import iter_records
from selfplay.selfplay_config import SelfPlayConfig
from selfplay.worker import SelfPlayWorker
from tests.selfplay.test_worker import replay_checks

SIZE = 5
NET = zero_config("2x16", board_size=SIZE)


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return ZeroResNet(NET).eval()


def test_fp32_evaluator_equals_net_evaluator():
    model = tiny_net()
    ours, reference = OrtEvaluator(model, SIZE, "fp32", batch_size=16), NetEvaluator(model, SIZE, batch_size=16)
    for n in (1, 5, 40):  # 40 > batch_size: chunked calls too
        batch = leaf_batch(sample_positions(SIZE, n, seed=n))
        priors_BA, values_B = ours.evaluate(batch)
        ref_priors_BA, ref_values_B = reference.evaluate(batch)
        assert priors_BA.shape == (n, SIZE * SIZE + 1) and values_B.shape == (n,)
        np.testing.assert_allclose(priors_BA, ref_priors_BA, atol=1e-5, rtol=0)
        np.testing.assert_allclose(values_B, ref_values_B, atol=1e-5, rtol=0)
        assert (priors_BA[batch.legal == 0] == 0).all()
    assert ours.positions == 46 and ours.net_seconds > 0


def test_int8_evaluator_gives_distributions_over_legal_moves():
    """int8 against its own fp32 model (which equals torch, test above). Measured with ORT 1.32 on an
    AVX-512 VNNI CPU, nets 0-2 and calibration seeds 0/3/7, with or without reduce_range or per-channel
    scales: value error mean at most 0.05 of the mean absolute deviation of the fp32 values over these
    positions (a fresh net's values spread little, so a bound in absolute terms would pass a constant),
    prior total variation mean 0.0003. Calibrating on empty or shrunken planes, whose ranges clip,
    gives 0.9-2.3 and 0.01; planes scaled up 8 times, ranges too coarse, 0.2 and 0.0012. The bounds
    leave 5-10 times the measured error for other ORT builds and CPUs while failing the clipping ones."""
    model = tiny_net()
    evaluator = OrtEvaluator(model, SIZE, "int8", seed=3)
    assert evaluator.calibration_source == "random games"
    batch = leaf_batch(sample_positions(SIZE, 32, seed=1))
    priors_BA, values_B = evaluator.evaluate(batch)
    assert np.allclose(priors_BA.sum(1), 1, atol=1e-5) and (priors_BA[batch.legal == 0] == 0).all()
    assert ((0 <= values_B) & (values_B <= 1)).all()
    _, ref_values_B = NetEvaluator(model, SIZE).evaluate(batch)
    assert np.abs(values_B - ref_values_B).max() < 0.1
    fp32_priors_BA, fp32_values_B = OrtEvaluator(model, SIZE, "fp32").evaluate(batch)
    spread = np.abs(fp32_values_B - fp32_values_B.mean()).mean()
    assert spread > 0, "the positions must tell the values apart for the bound below to mean anything"
    assert np.abs(values_B - fp32_values_B).mean() <= 0.25 * spread
    assert 0.5 * np.abs(priors_BA - fp32_priors_BA).sum(1).mean() <= 0.003  # total variation distance


def test_calibration_source_follows_what_was_evaluated():
    model = tiny_net()
    evaluator = OrtEvaluator(model, SIZE, "int8", seed=0)
    evaluator.evaluate(leaf_batch(sample_positions(SIZE, MIN_RECENT_POSITIONS - 1, seed=2)))
    evaluator.load(model)
    assert evaluator.calibration_source == "random games", "too few positions seen since the last load"
    evaluator.evaluate(leaf_batch(sample_positions(SIZE, MIN_RECENT_POSITIONS, seed=2)))
    evaluator.load(model)
    assert evaluator.calibration_source == "recent"
    assert len(evaluator.recent) == 0, "each load starts a new sample"
    evaluator.load(model, calibration_planes_BCHW=random_game_planes(SIZE, 8, seed=0))
    assert evaluator.calibration_source == "given"
    with pytest.raises(ValueError, match="precision"):
        OrtEvaluator(model, SIZE, "fp16")
    with pytest.raises(ValueError, match="not 9x9"):
        OrtEvaluator(model, 9)


def test_random_game_planes_are_the_features_of_those_positions():
    """position_planes (batch kernel) against extract (the per-position reader), on seeded random games."""
    positions = sample_positions(SIZE, 12, seed=4)
    expected = np.stack([extract(p, "zero") for p in positions])
    np.testing.assert_array_equal(position_planes(positions), expected)
    planes_BCHW = random_game_planes(SIZE, 60, seed=1)
    assert planes_BCHW.shape == (60, 17, SIZE, SIZE)
    assert np.array_equal(planes_BCHW, random_game_planes(SIZE, 60, seed=1))
    assert 0 < planes_BCHW[:, :2].sum((1, 2, 3)).mean() < SIZE * SIZE, "openings to full boards"


def test_reservoir_is_a_uniform_sample_of_the_stream():
    """Over 300 seeds, each decile of a 2000-item stream (fed in uneven batches) fills a tenth of a
    100-slot reservoir; a ring buffer would hold only the last decile."""
    counts = np.zeros(10)
    for seed in range(300):
        r = PlanesReservoir(100, seed)
        stream = np.arange(2000, dtype=np.float32)[:, None, None, None]  # (T,) -> (T, 1, 1, 1)
        lo = 0
        for size in np.random.default_rng(seed).integers(1, 64, size=200):
            r.add(stream[lo:lo + size])
            lo += size
            if lo >= len(stream):
                break
        assert len(r) == 100 and r.seen == min(lo, 2000)
        kept = r.planes()[:, 0, 0, 0]
        assert len(np.unique(kept)) == 100, "no item kept twice"
        counts += np.bincount((kept // 200).astype(int), minlength=10)
    expected = 300 * 100 / 10
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 27.9, counts  # chi-square, 9 degrees of freedom, p = 0.001


def config(**kw):
    base = dict(board_size=SIZE, komi=0.5, net=NET, visits=8, parallel_games=4, resign_threshold=0, seed=3)
    base.update(kw)
    return SelfPlayConfig(**base)


def test_ort_fp32_self_play_plays_torch_s_games():
    state = tiny_net().state_dict()
    torch_games = SelfPlayWorker(config(), state, 0).play_games(4)
    ort_games = SelfPlayWorker(config(inference="ort"), state, 0).play_games(4)
    for a, b in zip(torch_games, ort_games):
        assert a.moves.tolist() == b.moves.tolist() and a.result == b.result
        np.testing.assert_allclose(a.policy_targets, b.policy_targets, atol=1e-6)


def test_int8_worker_plays_valid_games_and_rebuilds_per_version():
    worker = SelfPlayWorker(config(inference="ort-int8"), tiny_net(0).state_dict(), 0)
    assert worker.stats.session_builds == 1 and worker.evaluator.calibration_source == "random games"
    records = worker.play_games(3)
    assert len(records) == 3
    for record in records:
        replay_checks(record)
        assert record.weights_version == 0
    first = worker.evaluator.session
    worker.set_weights(tiny_net(0).state_dict(), 0)
    worker.prepare()
    assert worker.evaluator.session is first, "the same version keeps its session"
    new = tiny_net(1)
    worker.set_weights(new.state_dict(), 1)
    records = worker.play_games(2, generation=1)
    assert worker.evaluator.session is not first and worker.stats.session_builds == 2
    assert worker.evaluator.calibration_source == "recent", "version 1 calibrates on version 0's positions"
    assert worker.stats.session_build_seconds > 0
    for record in records:
        replay_checks(record)
        assert record.weights_version == 1
    # the rebuilt session runs the new weights
    batch = leaf_batch(sample_positions(SIZE, 16, seed=9))
    _, values_B = worker.evaluator.evaluate(batch)
    _, new_values_B = NetEvaluator(new, SIZE).evaluate(batch)
    _, old_values_B = NetEvaluator(tiny_net(0), SIZE).evaluate(batch)
    assert np.abs(values_B - new_values_B).mean() < 0.5 * np.abs(values_B - old_values_B).mean()


def test_bad_inference_is_refused():
    with pytest.raises(ValueError, match="inference must be one of torch, ort, ort-int8"):
        config(inference="tensorrt")


def test_selfplay_command_takes_inference(tmp_path, zero_checkpoint, capsys, restore_torch_threads):
    out = str(tmp_path / "games")
    argv = ["selfplay", "--weights", zero_checkpoint, "--games", "2", "--workers", "1", "--out", out, "--visits", "4",
            "--parallel-games", "2", "--komi", "0.5", "--sgf-every", "0"]
    assert main([*argv, "--inference", "ort-int8"]) == 0
    assert len(list(iter_records(out))) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([*argv, "--inference", "int4"])
    assert e.value.code != 0 and "invalid choice: 'int4'" in capsys.readouterr().err


def test_train_zero_takes_inference(tmp_path, capsys, restore_torch_threads):
    run_dir = tmp_path / "run"
    tiny = ["--board-size", "5", "--net", "2x16", "--visits", "4", "--games", "2", "--parallel-games", "2",
            "--steps", "1", "--batch-size", "8", "--gate-games", "0", "--window", "10", "--workers", "0",
            "--threads", "1", "--no-progress", "--generations", "1"]
    assert main(["train", "zero", "--out", str(run_dir), *tiny, "--inference", "ort"]) == 0
    from selfplay.pipelines.zero import ZeroRun

    assert ZeroRun.open(str(run_dir)).config.selfplay.inference == "ort", "kept in the run's config"
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["train", "zero", "--out", str(tmp_path / "bad"), *tiny, "--inference", "fp8"])
    assert e.value.code != 0 and "invalid choice: 'fp8'" in capsys.readouterr().err
