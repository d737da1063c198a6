"""The Go commands with players whose answers are known (tests/gtp/fakes.py): dead stones in scoring and
clean-up, analysis streamed until interrupted, genmove within the clock's budget, SGF round trips."""
from __future__ import annotations

import time

import pytest

from goengine.gtp.handlers import capture_move, free_handicap_vertices
from goengine.position import Position
from tests.gtp import transcript
from tests.gtp.fakes import ScriptedPlayer
from tests.gtp.live import LiveEngine



def parse_lz(line: str) -> list[dict]:
    """Leela Zero's analysis line -> one dict per `info` (as Lizzie and Sabaki read it)."""
    out = []
    for chunk in line.split("info ")[1:]:
        tokens = chunk.split()
        keys = tokens[0:12:2]
        assert keys == ["move", "visits", "winrate", "prior", "lcb", "order"] and tokens[12] == "pv"
        info = {k: v for k, v in zip(keys, tokens[1:12:2])}
        info["pv"] = tokens[13:]
        out.append(info)
    return out

# Black owns the left, White the right; a white stone at B5 and a black one at H5 are dead.
DEAD_SETUP = ["boardsize 9", "komi 0.5"] + [f"play b E{r}" for r in range(1, 10)] \
    + [f"play w F{r}" for r in range(1, 10)] + ["play w B5", "play w B6", "play b H5"]


def _run(lines, player, extra=None):
    engine = transcript.build_engine(extra, player=player)
    return transcript.split_replies(transcript.serve_in_process(lines, engine))


def test_final_score_and_status_lists_use_the_players_dead_stones():
    player = ScriptedPlayer(dead={"B5", "B6", "H5", "J9"})  # J9 is empty: ignored
    replies = _run(DEAD_SETUP + ["final_score", "final_status_list dead", "final_status_list alive"], player)
    # dead removed: Black A-E = 45 points, White F-J = 36: B+9 - 0.5
    assert replies[-3] == "= B+8.5\n\n"
    assert replies[-2] == "= B5 B6\nH5\n\n"  # one chain per line
    alive = replies[-1][2:-2].split("\n")
    assert alive == [" ".join(f"E{r}" for r in range(1, 10)), " ".join(f"F{r}" for r in range(1, 10))]
    plain = _run(DEAD_SETUP + ["final_score"], ScriptedPlayer())
    # nothing dead: both big regions touch both colours and are neutral; stones 10 (B) to 11 (W)
    assert plain[-1] == "= W+1.5\n\n"


def test_genmove_cleanup_captures_dead_stones_before_passing():
    player = ScriptedPlayer(dead={"B5", "B6"})  # it always wants to pass
    lines = DEAD_SETUP + ["kgs-genmove_cleanup b"] * 8 + ["genmove b"]
    replies = _run(lines, player)
    cleanup = [r[2:-2] for r in replies[len(DEAD_SETUP):-1]]
    pos = Position(9, komi=0.5)
    for line in DEAD_SETUP[2:]:
        _, colour, vertex = line.split()
        pos = pos.play(vertex, colour)
    for move in cleanup:
        if move == "pass":
            break
        assert pos.colour_at("B5") == "w", "a clean-up move after the dead stones were gone"
        pos = pos.play(move, "b")
    assert pos.colour_at("B5") is None and pos.colour_at("B6") is None
    assert cleanup.count("pass") >= 1 and all(m == "pass" for m in cleanup[cleanup.index("pass"):])
    assert replies[-1] == "= pass\n\n"  # plain genmove keeps the player's pass
    resigning = _run(["boardsize 9", "kgs-genmove_cleanup w", "genmove w"], ScriptedPlayer(moves=["resign", "resign"]))
    assert resigning[1:] == ["= pass\n\n", "= resign\n\n"]


def test_capture_move_takes_the_last_liberty_first():
    pos = Position.from_ascii("""
        . X . . .
        X O X . .
        . . . . .
        . . . O .
        . . . . .
    """)
    assert capture_move(pos, "b", {"B4"}) == "B3"  # B4 in atari: capture it
    assert capture_move(pos, "b", {"D2", "B4"}) == "B3"


def test_lz_analyze_streams_until_the_next_command():
    player = ScriptedPlayer()
    live = LiveEngine(transcript.build_engine(player=player))
    try:
        live.send("boardsize 9")
        live.send("play b E5")
        live.send("11 lz-analyze w 2")
        live.wait_for(lambda text: text.count("info move") >= 4 * 3)
        live.send("12 name")
        text = live.wait_for(lambda text: text.endswith("=12 goengine\n\n"))
    finally:
        live.close()
    stream = text.split("=11\n", 1)[1].split("\n\n", 1)[0].split("\n")
    assert len(stream) >= 4
    last_visits = 0
    for line in stream:
        infos = parse_lz(line)
        assert [i["order"] for i in infos] == ["0", "1", "2"]
        first = infos[0]
        assert int(first["visits"]) > last_visits
        assert (first["winrate"], first["prior"], first["lcb"]) == ("6000", "5000", "5500")
        assert (infos[1]["winrate"], infos[1]["prior"], infos[1]["lcb"]) == ("5000", "2500", "4500")
        assert first["pv"] == [first["move"], "pass"]
        last_visits = int(first["visits"])
    assert player.reports >= len(stream)


def test_lz_genmove_analyze_with_a_streaming_player_and_without():
    replies = _run(["boardsize 5", "lz-genmove_analyze b 1", "showboard"], ScriptedPlayer(with_genmove_analyze=True))
    lines = replies[1].split("\n")
    assert lines[0] == "=" and len([l for l in lines if l.startswith("info")]) == 3
    assert lines[-3] == "play A1" and "(X)" in replies[2]
    replies = _run(["boardsize 5", "lz-genmove_analyze b 1"], ScriptedPlayer(moves=["C3"]))
    assert replies[1].split("\n")[-3] == "play C3"


def test_genmove_respects_the_clock():
    """A player that uses its whole budget: one second per move (time_settings 0 1 1) must fit."""
    player = ScriptedPlayer(moves=["E5", "D4", "C3", "F6"], think=1.0)
    live = LiveEngine(transcript.build_engine(player=player))
    try:
        live.send("boardsize 9")
        live.send("time_settings 0 1 1")
        started = time.monotonic()
        live.send("genmove b")
        live.wait_for(lambda text: text.endswith("= E5\n\n"))
        assert time.monotonic() - started < 1.0
        live.send("kgs-time_settings byoyomi 0 2 3")
        live.send("genmove w")
        live.wait_for(lambda text: text.endswith("= D4\n\n"))
        live.send("time_left b 0.3 1")
        live.send("genmove b")
        live.wait_for(lambda text: text.endswith("= C3\n\n"))
    finally:
        live.close()
    budgets = [b.seconds for b in player.budgets]
    assert budgets[0] == pytest.approx(0.9 - 0.25)
    assert budgets[1] == pytest.approx(2 * 0.9 - 0.25)
    assert budgets[2] == pytest.approx(0.02)  # 0.3 s left for the move: as fast as possible
    # --seconds caps the clock; without a clock it is the budget
    player = ScriptedPlayer()
    _run(["genmove b", "time_settings 600 0 0", "genmove w"], player, extra=["--seconds", "0.5"])
    assert [b.seconds for b in player.budgets] == [0.5, 0.5]
    player = ScriptedPlayer()
    _run(["genmove b"], player, extra=["--playouts", "50"])
    assert player.budgets[0].playouts == 50 and player.budgets[0].seconds is None


def test_reg_genmove_asks_without_playing():
    replies = _run(["boardsize 9", "reg_genmove b", "reg_genmove w", "showboard", "genmove b", "showboard"],
                   ScriptedPlayer(moves=["e5", "resign", "D4"]))
    assert replies[1:3] == ["= E5\n\n", "= resign\n\n"]
    assert "moves 0" in replies[3] and replies[4] == "= D4\n\n" and "moves 1" in replies[5]


def test_resign_leaves_the_board_and_play_goes_on_after_two_passes():
    replies = _run(["boardsize 9", "genmove b", "play b pass", "play w pass", "play b E5", "genmove w",
                    "showboard"], ScriptedPlayer(moves=["resign", "D4"]))
    assert replies[1] == "= resign\n\n" and replies[4] == "=\n\n" and replies[5] == "= D4\n\n"
    assert "moves 4" in replies[6]


def test_komi_changes_the_whole_undo_stack():
    replies = _run(["boardsize 9", "komi 5.5", "play b E5", "komi 0.5", "undo", "final_score"], ScriptedPlayer())
    assert replies[-1] == "= W+0.5\n\n"


def test_free_handicap_placement():
    assert free_handicap_vertices(9, 9) == ["C3", "G7", "C7", "G3", "C5", "G5", "E3", "E7", "E5"]
    for size, stones in [(9, 17), (19, 30), (5, 4), (2, 3), (25, 624)]:
        vertices = free_handicap_vertices(stones, size)
        assert len(vertices) == len(set(vertices)) == stones
        Position(size).with_handicap(stones, free=vertices)  # all on the board


def test_loadsgf_and_printsgf(tmp_path):
    from sgfmill import sgf as sgfmill_sgf

    game = tmp_path / "game.sgf"
    game.write_bytes(b"(;GM[1]FF[4]SZ[9]KM[5.5];B[ee];W[cg];B[dd];W[])")
    board = tmp_path / "board.sgf"
    replies = _run(["boardsize 19", f"loadsgf {game}", "showboard", "undo", "undo", "undo", "undo", "undo",
                    f"loadsgf {game} 3", "showboard", f"printsgf {board}", "printsgf",
                    "loadsgf /nonexistent.sgf", f"loadsgf {game} x"], ScriptedPlayer())
    assert replies[1] == "=\n\n"
    assert "komi 5.5" in replies[2] and "moves 4" in replies[2] and "C3" not in replies[2]
    assert replies[2].split("\n")[8] == " 3 . . O . + . + . . 3"  # W C3 (sgf cg)
    assert replies[3:7] == ["=\n\n"] * 4 and replies[7] == "? cannot undo\n\n"  # the record's moves undo
    assert "moves 2" in replies[9] and "to play: black" in replies[9]  # before move 3
    written = sgfmill_sgf.Sgf_game.from_bytes(board.read_bytes())
    root = written.get_root()
    assert root.get_setup_stones()[0] == {(4, 4)} and root.get_setup_stones()[1] == {(2, 2)}
    assert root.get("PL") == "b" and written.get_komi() == 5.5
    printed = replies[11][2:-2]
    assert printed.startswith("(;") and "AB[ee]" in printed and "AW[cg]" in printed
    assert replies[12] == "? cannot load file\n\n" and replies[13] == "? syntax error\n\n"
