"""`goengine play` end to end: a scripted human at the terminal, through the console script."""
import os
import subprocess
import sys

from sgfmill import sgf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_play(tmp_path, keys: str, *flags):
    path = tmp_path / "game.sgf"
    proc = subprocess.run([sys.executable, "-m", "goengine.cli", "play", "--size", "5", "--komi", "0.5",
                           "--playouts", "60", "--seed", "1", "--sgf", str(path), *flags],
                          input=keys, capture_output=True, text=True, timeout=300, cwd=ROOT)
    return proc, path


def test_a_game_with_bad_input_undo_hint_and_resign(tmp_path):
    proc, path = run_play(tmp_path, "C3\nC3\nhello\nI2\nhint\nundo\nB2\nresign\n")
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "illegal move C3 by black: occupied; try again" in out
    assert "illegal move hello by black: not a move" in out
    assert "illegal move I2 by black: not a move" in out  # GTP has no column I
    assert "hint: " in out
    assert "White (engine) plays" in out
    assert " 5 " in out and "   A B C D E" in out  # the board is drawn with coordinates
    assert "(X)" in out  # the last move is marked
    assert "Game over: W+R" in out
    game = sgf.Sgf_game.from_bytes(path.read_bytes())
    assert game.get_size() == 5 and game.get_root().get("RE") == "W+R"
    moves = [node.get_move() for node in game.get_main_sequence()[1:]]
    # C3 and the engine's reply were undone after the hint; B2 and the engine's reply stayed
    assert moves[0] == ("b", (1, 1)) and moves[1][0] == "w" and len(moves) == 2


def test_playing_white_the_engine_moves_first(tmp_path):
    proc, path = run_play(tmp_path, "quit\n", "--colour", "white")
    assert proc.returncode == 0
    assert "Black (engine) plays" in proc.stdout and "game abandoned" in proc.stdout


def test_bad_flags_give_one_line_and_a_non_zero_exit(tmp_path):
    for flags in (["--size", "30"], ["--komi", "lots"], ["--handicap", "12"], ["--playouts", "-5"]):
        proc = subprocess.run([sys.executable, "-m", "goengine.cli", "play", *flags], capture_output=True,
                              text=True, timeout=120, cwd=ROOT, input="")
        assert proc.returncode != 0, flags
        assert len(proc.stderr.strip().splitlines()) == 1, (flags, proc.stderr)
