"""`goengine gtp` with the search player (slow: start-up and JIT, then seconds of search): analysis
streams with growing visits, genmove keeps to a one-second clock, and a game against GNU Go completes."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from goengine.gtp.client import GtpProcess
from goengine.referee import MatchConfig, Referee
from goengine.position import Position
from tests.gnugo import GNUGO_PATH, gnugo_available, skip_reason
from tests.gtp.test_handlers import parse_lz

MCTS = [sys.executable, "-m", "goengine.cli", "gtp", "--engine", "mcts", "--seed", "1"]

pytestmark = pytest.mark.slow


def test_mcts_analysis_stream_and_clock():
    proc = subprocess.Popen(MCTS, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        def send(line):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()

        def reply():
            lines = []
            while True:
                line = proc.stdout.readline()
                if line == "\n" and lines:
                    return lines
                lines.append(line.rstrip("\n"))

        send("boardsize 9")
        assert reply() == ["="]
        send("genmove b")  # warm-up: JIT compilation
        first = reply()[0][2:]
        send("lz-analyze w 10")
        assert proc.stdout.readline() == "=\n"
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(5)]
        send("name")
        rest = []
        while not rest or rest[-1] != "= goengine":
            rest.append(proc.stdout.readline().rstrip("\n"))
        assert rest[-2] == "" and all(line.startswith("info ") for line in rest[:-2])  # stream, blank, reply
        assert proc.stdout.readline() == "\n"
        totals = [sum(int(i["visits"]) for i in parse_lz(line)) for line in lines]
        assert totals == sorted(totals) and totals[-1] > totals[0]
        pos = Position(9).play(first, "b")
        assert all(pos.is_legal(i["move"], "w") for line in lines for i in parse_lz(line))
        send("time_settings 0 1 1")
        assert reply() == ["="]
        for colour in "wbw":
            started = time.monotonic()
            send(f"genmove {colour}")
            assert reply()[0].startswith("= ")
            assert time.monotonic() - started < 1.0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.gnugo
@pytest.mark.skipif(not gnugo_available(), reason=skip_reason())
def test_mcts_against_gnugo():
    gnugo = [GNUGO_PATH, "--mode", "gtp", "--chinese-rules", "--level", "1"]
    a, b = GtpProcess(MCTS + ["--playouts", "300"], "mcts"), GtpProcess(gnugo, "gnugo")
    try:
        game = Referee(MatchConfig(games=1, seconds_per_move=20), a, b).play_game(0)
    finally:
        a.close()
        b.close()
    assert game.reason in ("score", "resign"), game.detail
    assert len(game.moves) > 10
