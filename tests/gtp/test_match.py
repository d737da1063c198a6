"""The referee (goengine/referee.py) and `goengine match` (goengine/match.py): forfeits from a
deliberately broken engine (broken_engine.py), scoring by agreement or Tromp-Taylor, the Wilson interval
against published values and scipy, the command line with JSON and SGF output, and games between
`goengine gtp` and GNU Go."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from scipy.stats import binomtest

from goengine import sgf
from goengine.cli import main
from goengine.gtp.client import GtpProcess
from goengine.referee import MatchConfig, Referee, parse_score
from goengine.match_stats import wilson_interval
from goengine.sprt import expected_score
from selfplay.reaper import process_tree
from tests.gnugo import GNUGO_PATH, gnugo_available, skip_reason

BROKEN = os.path.join(os.path.dirname(__file__), "broken_engine.py")


def broken(*flags: str) -> list[str]:
    return [sys.executable, BROKEN, *flags]


def play(first: list[str], second: list[str], games: int = 1, **config):
    a, b = GtpProcess(first, "first"), GtpProcess(second, "second")
    try:
        referee = Referee(MatchConfig(games=games, **config), a, b)
        return [referee.play_game(i) for i in range(games)], a, b
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("successes, n, low, high", [  # R. G. Newcombe, Stat. Med. 17 (1998), table I
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval(successes, n, low, high):
    lo, hi = wilson_interval(successes, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)
    ci = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert lo == pytest.approx(ci.low, abs=1e-9) and hi == pytest.approx(ci.high, abs=1e-9)


def test_parse_score():
    assert parse_score("B+3.5") == 3.5 and parse_score("w+12") == -12 and parse_score("0") == 0
    assert parse_score("B+R") is None and parse_score("?") is None and parse_score("") is None


def test_illegal_move_forfeits(tmp_path):
    log = tmp_path / "second.log"
    (game,), _, _ = play(broken("--moves", "C3,c3"), broken("--log", str(log)), seconds_per_move=5)
    assert (game.result, game.reason, game.moves) == ("W+F", "illegal move", ["C3", "pass"])
    assert "C3" in game.detail and "occupied" in game.detail
    sent = log.read_text().split("\n")
    assert sent[1:6] == ["name", "version", "boardsize 9", "clear_board", "komi 7"] or \
        sent[1:4] == ["boardsize 9", "clear_board", "komi 7"]
    assert "time_settings 0 5 1" in sent and "play b C3" in sent and "genmove w" in sent


def test_crash_forfeits_and_the_engine_is_restarted():
    games, first, _ = play(broken("--crash-on-genmove", "1"), broken(), games=2)
    assert [(g.result, g.reason) for g in games] == [("W+F", "crash"), ("B+F", "crash")]  # colours alternate
    assert "dying on purpose" in games[0].detail and "exit status 3" in games[0].detail
    assert first.starts == 2


def test_timeout_forfeits_within_the_grace():
    started = time.monotonic()
    games, first, _ = play(broken("--sleep-on-genmove", "5"), broken(), games=2, seconds_per_move=0.3, grace_s=0.3,
                           alternate=False)
    assert [(g.result, g.reason) for g in games] == [("W+T", "timeout")] * 2
    assert time.monotonic() - started < 4.5  # two moves cut at 0.6 s each, not 5 s
    assert first.starts == 2


def test_refusing_a_legal_move_forfeits_and_resigning_loses():
    (game,), _, _ = play(broken("--moves", "C3"), broken("--refuse-play"))
    assert (game.result, game.reason) == ("B+F", "failure") and "refused the legal move b C3" in game.detail
    (game,), _, _ = play(broken("--moves", "C3,resign"), broken())
    assert (game.result, game.reason, game.moves) == ("W+R", "resign", ["C3", "pass"])


def test_scoring():
    # agreement: the engines' word
    (game,), _, _ = play(broken("--score", "B+5"), broken("--score", "b+5.0"))
    assert (game.result, game.reason) == ("B+5", "score") and "agree" in game.detail
    # disagreement: Tromp-Taylor after the dead stones both list (none here): C3 owns the board
    (game,), _, _ = play(broken("--moves", "C3", "--score", "B+74"), broken("--score", "W+7", "--dead", "C3"))
    assert game.result == "B+74" and "Tromp-Taylor" in game.detail
    # both call C3 dead: removed, the empty board is White's by komi
    (game,), _, _ = play(broken("--moves", "C3", "--dead", "C3 J9"), broken("--dead", "c3"), komi=7.5)
    assert game.result == "W+7.5"
    # the move cap ends a game that would go on
    (game,), _, _ = play(broken("--moves", "C3,D3,E3"), broken("--moves", "C7,D7,E7"), max_moves=3)
    assert (game.reason, game.moves) == ("move cap", ["C3", "C7", "D3"])


def test_handicap_and_sgf(tmp_path):
    log = tmp_path / "white.log"
    (game,), _, _ = play(broken(), broken("--log", str(log)), handicap=2, komi=0.5, out_dir=str(tmp_path))
    assert "set_free_handicap C3 G7" in log.read_text().split("\n")
    assert log.read_text().split("\n").index("genmove w") < log.read_text().split("\n").index("play b pass")
    record = sgf.load_game(game.sgf)
    assert record.handicap == 2 and set(record.setup_black) == {"C3", "G7"} and record.result == game.result
    final = sgf.replay(record)[-1]
    assert final.to_play == "w" and final.passes == 2 and game.result == final.result() == "B+80.5"


def test_command_line_json_and_sgf(tmp_path, capsys):
    engine = f"{sys.executable} {BROKEN}"
    code = main(["match", "--black", engine + " --moves C3 --name one", "--white", engine + " --name two",
                 "--games", "3", "--size", "7", "--komi", "0.5", "--out", str(tmp_path), "--json", "--no-progress"])
    assert code == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    # "one" plays its only move, C3, as Black in game 1 (it owns the board); after that everybody passes
    # and White wins by komi: game 2 ("one" is White) is a win, game 3 a loss
    assert (summary["wins"], summary["losses"], summary["draws"], summary["games"]) == (2, 1, 0, 3)
    assert summary["win_rate"] == pytest.approx(2 / 3)
    assert summary["ci95"] == pytest.approx(list(wilson_interval(2, 3)))
    assert [r["result"] for r in summary["results"]] == ["B+48.5", "W+0.5", "W+0.5"]
    # every genmove was answered and timed: both engines moved in every game, quickly
    assert set(summary["seconds_per_move"]) == {summary["first"], summary["second"]}
    assert all(0 < s < 5 for s in summary["seconds_per_move"].values())
    assert sum(sum(r["genmoves"].values()) for r in summary["results"]) >= 3 * 2
    assert err.count("game ") == 3 and sorted(os.listdir(tmp_path)) == [f"game-00{i}.sgf" for i in (1, 2, 3)]


def test_sprt_stops_the_match_once_it_decides(capsys):
    """A side that resigns every game: the sequential test accepts H1 (or H0 with the sides swapped) after as
    many colour-swapped pairs as Wald's bound asks of a run of wins, well before --games."""
    engine = f"{sys.executable} {BROKEN}"
    loser = engine + " --name loser --moves " + ",".join(["resign"] * 60)
    winner = engine + " --name winner"
    s0, s1 = expected_score(0), expected_score(100)
    # Every pair is won 2-0; the test lets a pair's outcomes be any distribution with the mean asked for, so
    # a 2-0 pair weighs as one won game of Wald's SPRT (log(s1 / s0)), not two.
    pairs = math.ceil(math.log(19) / math.log(s1 / s0))
    assert main(["match", "--black", winner, "--white", loser, "--games", "60", "--sprt", "0,100", "--json",
                 "--no-progress", "--size", "5"]) == 0
    summary = json.loads(capsys.readouterr().out)
    test = summary["sprt"]
    assert (test["result"], test["unit"], summary["wins"]) == ("H1", "pair", summary["games"])
    assert pairs <= test["units"] <= pairs + 1 and summary["games"] == 2 * test["units"] < 60
    assert test["llr"] >= test["bounds"][1] == pytest.approx(math.log(19))
    assert summary["elo"] is None and summary["elo_ci95"][0] > 0  # 100%: no finite Elo, a finite lower bound

    assert main(["match", "--black", loser, "--white", winner, "--games", "60", "--sprt", "0,100",
                 "--no-progress", "--size", "5"]) == 0
    out = capsys.readouterr().out
    lost = math.ceil(math.log(19) / math.log((1 - s0) / (1 - s1)))  # a 0-2 pair weighs as one lost game
    assert f"after {lost} pairs: H0 accepted: loser 0 is nearer +0 Elo than +100" in out and "Elo -inf" in out
    # --games caps it: one pair cannot decide
    assert main(["match", "--black", winner, "--white", loser, "--games", "2", "--sprt", "0,100", "--json",
                 "--no-progress", "--size", "5"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["games"] == 2 and summary["sprt"]["result"] is None and 0 < summary["sprt"]["llr"] < 1


def test_concurrency_plays_every_game_once_on_its_own_engines(tmp_path, capsys):
    """--concurrency 3: three lanes, each with its own two engines, share the games; every game is played
    once, on the opening of its pair and in the colours of its index, as in the match of one lane."""
    engine = f"{sys.executable} {BROKEN}"
    logs = {side: tmp_path / f"{side}.log" for side in ("one", "two")}
    # engines that only pass: a game is its opening, so one lane and three must give the same games
    argv = ["match", "--black", f"{engine} --name one --log {logs['one']}",
            "--white", f"{engine} --name two --log {logs['two']}", "--games", "7", "--size", "7", "--komi", "0.5",
            "--random-moves", "3", "--seed", "4", "--json", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "lanes"), "--concurrency", "3"]) == 0
    out, err = capsys.readouterr()
    lanes = json.loads(out)
    assert [log.read_text().split("\n").count("start") for log in logs.values()] == [3, 3]
    for log in logs.values():
        log.unlink()
    assert main(argv + ["--out", str(tmp_path / "one")]) == 0
    single = json.loads(capsys.readouterr().out)
    assert [log.read_text().split("\n").count("start") for log in logs.values()] == [1, 1]
    assert sorted(err.count(f"game {i}/7:") for i in range(1, 8)) == [1] * 7
    for key in ("games", "wins", "losses", "draws", "win_rate"):
        assert lanes[key] == single[key]
    assert [r["index"] for r in lanes["results"]] == list(range(1, 8))  # the summary lists games in order
    for a, b in zip(lanes["results"], single["results"]):
        assert (a["black"], a["white"], a["result"]) == (b["black"], b["white"], b["result"])
        assert sgf.load_game(a["sgf"]).moves == sgf.load_game(b["sgf"]).moves  # same opening, same game


def test_concurrency_with_a_sequential_test(capsys):
    """With lanes, the test stops them taking new games once it decides; games under way are played out and
    counted, and the decision is the one reached (pairs count when both their games are in, in any order)."""
    engine = f"{sys.executable} {BROKEN}"
    loser = engine + " --name loser --moves " + ",".join(["resign"] * 60)
    assert main(["match", "--black", engine + " --name winner", "--white", loser, "--games", "60", "--sprt", "0,100",
                 "--json", "--no-progress", "--size", "5", "--concurrency", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    test = summary["sprt"]
    pairs = math.ceil(math.log(19) / math.log(expected_score(100) / expected_score(0)))
    assert test["result"] == "H1" and test["llr_at_decision"] >= test["bounds"][1]
    assert test["decided_after_games"] in (2 * pairs, 2 * pairs + 1) and summary["games"] < 60
    assert summary["games"] - test["decided_after_games"] <= 1  # the other lane's game under way, at most
    assert summary["wins"] == summary["games"]


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_a_stopped_match_leaves_no_engine_behind(signum, code):
    """SIGTERM ends a match of two lanes with one line and exit 143, its four engines closed, none started
    again by a lane that was mid-game; after SIGKILL the engines end on their own (stdin closes)."""
    engine = f"{sys.executable} {BROKEN} --sleep-on-genmove 0.2"
    proc = subprocess.Popen([sys.executable, "-m", "goengine.cli", "match", "--black", engine, "--white", engine,
                             "--games", "40", "--size", "5", "--concurrency", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(tree := process_tree({proc.pid})) < 5 and time.monotonic() < deadline:  # the match and 4 engines
        time.sleep(0.1)
    assert len(tree) == 5, tree
    time.sleep(1.0)  # games under way on both lanes
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    if signum == signal.SIGTERM:
        assert err.strip().splitlines()[-1] == "goengine match: terminated" and "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while (alive := [pid for pid in process_tree(set(tree)) if pid != proc.pid]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive == [], "engines outlived the match"


def test_concurrency_out_of_range_is_one_line(capsys):
    for value in ("0", "65"):
        assert main(["match", "--black", "gnugo", "--white", "gnugo", "--concurrency", value]) == 2
        err = capsys.readouterr().err
        assert err.startswith("goengine match: --concurrency must be") and err.count("\n") == 1, err


def test_progress_bar_without_tqdm(monkeypatch, capsys):
    from goengine import match

    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    bar = match._Progress(4, enabled=True)
    for _ in range(4):
        bar.update()
    bar.close()
    err = capsys.readouterr().err
    assert err.endswith("\rmatch [" + "#" * 30 + "] 4/4\n") and "] 2/4" in err


def test_command_line_errors(capsys):
    assert main(["match", "--black", "x", "--white", "y", "--games", "0"]) == 2
    assert main(["match", "--black", "/nonexistent/engine", "--white", "y", "--games", "1"]) == 2
    assert "goengine match: cannot start /nonexistent/engine" in capsys.readouterr().err


@pytest.mark.gnugo
@pytest.mark.skipif(not gnugo_available(), reason=skip_reason())
def test_random_engine_against_gnugo(tmp_path):
    goengine = [sys.executable, "-m", "goengine.cli", "gtp", "--engine", "random", "--seed", "3"]
    gnugo = [GNUGO_PATH, "--mode", "gtp", "--chinese-rules", "--level", "1"]
    games, first, second = play(goengine, gnugo, games=2, out_dir=str(tmp_path))  # time_settings slow GNU Go
    assert [g.black for g in games] == ["first", "second"]  # labels: identify() is the command line's job
    for game in games:
        assert game.reason == "score", game.detail
        final = sgf.replay(sgf.load_game(game.sgf))[-1]
        assert len(final.history) == len(game.moves) and final.passes == 2
        # random lists no dead stones: Tromp-Taylor on the board as it stands, unless GNU Go agreed
        assert game.result == final.result() or "agree" in game.detail
    assert first.starts == 1 and second.starts == 1


def test_an_engine_not_asked_to_score(tmp_path):
    """A side whose scoring is a search (a katago: spec) is never sent final_score or final_status_list:
    the board as it stands decides, whatever the engines would have said."""
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    (game,), _, _ = play(broken("--moves", "C3", "--score", "W+7", "--log", str(logs[0])),
                         broken("--score", "W+7", "--log", str(logs[1])), ask_to_score=(False, True))
    assert (game.result, game.reason) == ("B+74", "score") and "first not asked to score" in game.detail
    for log in logs:
        sent = log.read_text()
        assert "genmove" in sent and "final_score" not in sent and "final_status_list" not in sent


# Black walls off the left with column D, White the right with column E; Black then drops a lone stone
# at H5 in White's side and both pass. On the board as it stands (Tromp-Taylor) H5 makes the right side
# nobody's: B+21 (9 + 27 + 1 against 9, komi 7). A player, and GNU Go, calls H5 dead: W+16 (45 against 36).
WALLS = (",".join([f"D{i}" for i in range(1, 10)] + ["H5"]), ",".join(f"E{i}" for i in range(1, 10)))


@pytest.mark.gnugo
@pytest.mark.skipif(not gnugo_available(), reason=skip_reason())
def test_a_scorer_scores_what_the_board_as_it_stands_gets_wrong(tmp_path):
    black, white = broken("--moves", WALLS[0]), broken("--moves", WALLS[1])
    (game,), _, _ = play(black, white, ask_to_score=(False, True))
    assert game.result == "B+21" and "Tromp-Taylor" in game.detail  # without a scorer: the lone stone counts
    scorer = GtpProcess([GNUGO_PATH, "--mode", "gtp", "--chinese-rules"], "gnugo")
    games = []
    # the same walls with colours swapped (White's lone stone in Black's side, after Black has passed once):
    # the scorer, kept running, scores each game from its own replay of it, nothing left from the last one
    for first, second in ((black, white), (white, black)):
        a, b = GtpProcess(first, "first"), GtpProcess(second, "second")
        try:
            games.append(Referee(MatchConfig(games=1, out_dir=str(tmp_path / first[-1])), a, b, scorer).play_game(0))
        finally:
            a.close()
            b.close()
    scorer.close()
    assert [(g.result, g.reason, g.detail) for g in games] == [("W+16", "score", "scored by gnugo"),
                                                               ("B+2", "score", "scored by gnugo")]
    assert sgf.replay(sgf.load_game(games[1].sgf))[-1].result() == "W+35"  # the board as it stands
    assert sgf.load_game(games[1].sgf).result == "B+2" and scorer.starts == 1


def test_a_failing_scorer_falls_back_and_says_why(tmp_path):
    log = tmp_path / "scorer.log"
    black, white = broken("--moves", WALLS[0]), broken("--moves", WALLS[1])
    # a scorer that refuses a move: the engines' rule decides (here Tromp-Taylor), with the reason
    scorer = GtpProcess(broken("--refuse-play", "--log", str(log)), "refuser")
    a, b = GtpProcess(black, "first"), GtpProcess(white, "second")
    try:
        (game,) = [Referee(MatchConfig(games=1, handicap=2, komi=0.5), a, b, scorer).play_game(0)]
    finally:
        for engine in (a, b, scorer):
            engine.close()
    assert game.reason == "score" and "Tromp-Taylor" in game.detail  # scored by the rule, not forfeited
    assert "scorer refuser failed at 'play w E1': illegal move" in game.detail  # White moves first
    sent = log.read_text().split("\n")
    # it was sent the game from the start, the handicap stones first
    assert sent[1:5] == ["boardsize 9", "clear_board", "komi 0.5", "set_free_handicap C3 G7"]
    # a scorer that answers no score
    scorer = GtpProcess(broken("--score", "maybe"), "vague")
    a, b = GtpProcess(black, "first"), GtpProcess(white, "second")
    try:
        game = Referee(MatchConfig(games=1), a, b, scorer).play_game(0)
    finally:
        for engine in (a, b, scorer):
            engine.close()
    assert "scorer vague answered 'maybe'" in game.detail and game.result == "B+21"


@pytest.mark.gnugo
@pytest.mark.skipif(not gnugo_available(), reason=skip_reason())
def test_scorer_on_the_command_line(tmp_path, capsys):
    engine = f"{sys.executable} {BROKEN}"
    code = main(["match", "--black", f"{engine} --moves {WALLS[0]} --name one",
                 "--white", f"{engine} --moves {WALLS[1]} --name two", "--games", "1", "--scorer", "gnugo:level=1",
                 "--out", str(tmp_path), "--json", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (result,) = json.loads(out)["results"]
    assert (result["result"], result["detail"]) == ("W+16", "scored by gnugo:level=1")
    assert sgf.load_game(result["sgf"]).result == "W+16"
    assert main(["match", "--black", "gnugo", "--white", "gnugo", "--scorer", "gnugo:levl=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("goengine match: --scorer 'gnugo:levl=1': gnugo takes no 'levl'") and err.count("\n") == 1


@pytest.mark.gnugo
@pytest.mark.skipif(not gnugo_available(), reason=skip_reason())
def test_specs_play_a_match(tmp_path, capsys):
    code = main(["match", "--black", "goengine:playouts=20", "--white", "gnugo:level=1", "--games", "2", "--size", "9",
                 "--out", str(tmp_path), "--json", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["first"], summary["second"], summary["games"]) == ("goengine:playouts=20", "gnugo:level=1", 2)
    assert [(r["black"], r["white"]) for r in summary["results"]] == [
        ("goengine:playouts=20", "gnugo:level=1"), ("gnugo:level=1", "goengine:playouts=20")]
    for r in summary["results"]:
        assert r["reason"] in ("score", "resign"), r["detail"]
        record = sgf.load_game(r["sgf"])
        assert (record.black_name, record.white_name, record.result) == (r["black"], r["white"], r["result"])


@pytest.mark.parametrize("black, white, message", [
    ("katago:visit=1", "gnugo", "--black 'katago:visit=1': katago takes no 'visit'; it takes visits, threads, home"),
    ("gnugo", "goengine:seconds=1,playouts=5", "--white 'goengine:seconds=1,playouts=5': playouts and seconds are "
                                                "exclusive: give one"),
    ("katgo:visits=1", "gnugo",
     "--black 'katgo:visits=1': unknown kind 'katgo'; kinds are katago, gnugo, goengine, gtp"),
    ("gtp:", "gnugo", "--black 'gtp:': gtp needs command"),
])
def test_a_bad_spec_is_one_line_before_any_engine_starts(black, white, message, capsys):
    assert main(["match", "--black", black, "--white", white, "--games", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("goengine match: " + message) and err.count("\n") == 1, err


def test_katago_missing_is_one_line(tmp_path, capsys):
    pytest.importorskip("goengine.katago")
    home = tmp_path / "katago"
    assert main(["match", "--black", "gnugo", "--white", f"katago:visits=1,home={home}", "--games", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"goengine match: --white katago:visits=1,home={home}: KataGo is not installed in {home} ")
    assert err.count("\n") == 1 and "goengine install katago" in err


def test_random_openings_are_shared_by_each_pair_and_differ_between_pairs(tmp_path, capsys):
    # two engines that only pass would replay one game forever; with --random-moves each pair of games
    # (colours swapped) starts from its own seeded opening, the same for both games of the pair
    engine = f"{sys.executable} {BROKEN}"
    argv = ["match", "--black", engine + " --name one", "--white", engine + " --name two", "--games", "4",
            "--size", "7", "--komi", "0.5", "--random-moves", "3", "--seed", "5", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "a")]) == 0
    openings = []
    for i in range(1, 5):
        moves = sgf.load_game(str(tmp_path / "a" / f"game-00{i}.sgf")).moves
        assert all(vertex != "pass" for _, vertex in moves[:3])  # three board moves, then the engines' passes
        openings.append(moves[:3])
    assert openings[0] == openings[1] and openings[2] == openings[3] and openings[0] != openings[2]
    assert main(argv + ["--out", str(tmp_path / "b")]) == 0  # the same seed gives the same games
    assert (tmp_path / "a" / "game-003.sgf").read_bytes() == (tmp_path / "b" / "game-003.sgf").read_bytes()
    capsys.readouterr()
    assert main(argv + ["--random-moves", "49"]) == 2
    assert "--random-moves must be in [0, 48], not 49" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.gnugo
@pytest.mark.skipif(not gnugo_available(), reason=skip_reason())
def test_a_match_fills_a_cold_cache_before_its_engines_start(tmp_path):
    """A match with a goengine side compiles the kernels once, in the referee, before any engine starts
    (not in every engine at once, nor in a timed genmove); its games are then played, not lost on time."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "goengine.cli", "match", "--black", "goengine:seconds=0.2",
                           "--white", "gnugo:level=1", "--games", "2", "--size", "9", "--seconds-per-move", "3",
                           "--concurrency", "2", "--no-alternate", "--json", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("compiling the engine's kernels") == 1
    assert all(r["reason"] in ("score", "resign") for r in json.loads(proc.stdout)["results"]), proc.stderr
