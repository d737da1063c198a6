"""`goengine bench selfplay --weights`: the self-play benchmark run with a trained checkpoint instead of
its random-weight 6x64 net (quick mode, end to end through the CLI), and its bad inputs."""
import json

import pytest
import torch

import nets
from goengine.cli import main
from nets.go.checkpoint import save
from tests.selfplay.test_selfplay_cli import one_line_error

SIZE = 5


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "best.pt"
    save(path, nets.build("zero_resnet", preset="2x16", board_size=SIZE), feature_set="zero")
    return str(path)


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_missing_weights(tmp_path, capsys):
    err = one_line_error(capsys, ["bench", "selfplay", "--quick", "--weights", str(tmp_path / "none.pt")])
    assert "none.pt" in err


def test_weights_are_for_the_selfplay_benchmark_only(weights, capsys):
    err = one_line_error(capsys, ["bench", "board", "--quick", "--weights", weights])
    assert "--weights" in err and "selfplay" in err


@pytest.mark.slow
def test_quick_bench_with_a_checkpoint(weights, capsys):
    assert main(["bench", "selfplay", "--quick", "--json", "--weights", weights]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["board_size"] == SIZE and weights in figures["net"]
    for backend in ("torch", "ort", "ort_int8", "ort_int8_pcr"):
        assert figures[f"{backend}_games_per_cpu_hour"] > 0
    assert figures["speedup_1_to_2_workers"] > 0
