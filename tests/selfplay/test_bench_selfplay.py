"""`goengine bench selfplay --weights`: the self-play benchmark run with a trained checkpoint instead of
its random-weight 6x64 net (quick mode, end to end through the CLI), and its bad inputs."""
import json

import pytest

from goengine.cli import main
from tests.selfplay.test_selfplay_cli import one_line_error

SIZE = 5  # the board of the zero_checkpoint fixture (tests/conftest.py)

pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # tests/conftest.py


def test_missing_weights(tmp_path, capsys):
    err = one_line_error(capsys, ["bench", "selfplay", "--quick", "--weights", str(tmp_path / "none.pt")])
    assert "none.pt" in err


def test_weights_are_for_the_selfplay_benchmark_only(zero_checkpoint, capsys):
    err = one_line_error(capsys, ["bench", "board", "--quick", "--weights", zero_checkpoint])
    assert "--weights" in err and "selfplay" in err


@pytest.mark.slow
def test_quick_bench_with_a_checkpoint(zero_checkpoint, capsys):
    assert main(["bench", "selfplay", "--quick", "--json", "--weights", zero_checkpoint]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["board_size"] == SIZE and zero_checkpoint in figures["net"]
    for backend in ("torch", "ort", "ort_int8", "ort_int8_pcr"):
        assert figures[f"{backend}_games_per_cpu_hour"] > 0
    assert figures["speedup_1_to_2_workers"] > 0
