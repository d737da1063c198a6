"""KataGo's growing replay window (`train zero --window-growth`, ZeroRunConfig.window_at): fixed until the
run has played --window games, then growing with slope beta = 0.4 that falls as (n / c)^-0.25, never past
the games played; the loop trains on exactly that many of the latest games, and the choice survives
--resume."""
import csv

import pytest

from goengine.cli import main
from selfplay.pipelines.zero import ZeroRun
from selfplay.pipelines.zero_config import WINDOW_ALPHA, WINDOW_BETA, ZeroRunConfig
from selfplay.selfplay_config import SelfPlayConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def test_the_window_starts_fixed_then_grows_as_katagos():
    c = 10_000
    growing = ZeroRunConfig(selfplay=SelfPlayConfig(board_size=5), window_games=c, window_growth=True)
    fixed = ZeroRunConfig(selfplay=SelfPlayConfig(board_size=5), window_games=c)
    sizes = [growing.window_at(n) for n in range(0, 40 * c, c // 10)]
    assert sizes[:11] == [c] * 11  # up to c games played
    assert all(b >= a for a, b in zip(sizes, sizes[1:])) and sizes[-1] > 2 * c
    assert all(growing.window_at(n) <= max(n, c) for n in range(0, 40 * c, c // 7))
    assert all(fixed.window_at(n) == c for n in range(0, 40 * c, c // 7))

    def slope(n):  # games added to the window per game played
        return (growing.window_at(n + c // 10) - growing.window_at(n)) / (c // 10)

    # d window / d n = beta (n / c)^(alpha - 1): beta just past c, beta / 2 at 16 c
    assert slope(c) == pytest.approx(WINDOW_BETA, rel=0.02)
    assert slope(16 * c) == pytest.approx(WINDOW_BETA * 16 ** (WINDOW_ALPHA - 1), rel=0.02)


TINY = ["--board-size", "5", "--net", "2x16", "--visits", "8", "--games", "6", "--parallel-games", "3",
        "--steps", "2", "--batch-size", "16", "--gate-games", "0", "--window", "6", "--seed", "5",
        "--workers", "0", "--threads", "1", "--no-progress"]


def window_games(run_dir) -> list[int]:
    with open(f"{run_dir}/metrics.csv", newline="") as f:
        return [int(float(row["window_games"])) for row in csv.DictReader(f)]


def test_the_loop_trains_on_the_grown_window_and_resume_keeps_it(tmp_path, capsys, restore_torch_threads):
    growing, fixed = str(tmp_path / "growing"), str(tmp_path / "fixed")
    assert main(["train", "zero", "--out", growing, *TINY, "--window-growth", "--generations", "2"]) == 0
    assert main(["train", "zero", "--out", growing, "--resume", "--generations", "4", "--workers", "0",
                 "--no-progress"]) == 0
    assert main(["train", "zero", "--out", fixed, *TINY, "--generations", "4"]) == 0
    config = ZeroRun.open(growing, board_size=5).config
    assert config.window_growth is True  # as resume read it
    expected = [config.window_at(6 * g) for g in range(1, 5)]
    assert expected[0] == 6 and expected[-1] > expected[1] > 6  # grown: 6 games a generation, c = 6
    assert window_games(growing) == expected
    assert window_games(fixed) == [6, 6, 6, 6]
