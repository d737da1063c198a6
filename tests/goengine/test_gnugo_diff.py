"""Differential test: our Position against GNU Go 3.8 over GTP, on the same seeded random games.

After every move we compare GNU Go's `list_stones black|white`, `captures black|white` and
`all_legal <side to move>` with ours. Our rule sets map onto GNU Go's flags as follows:

    ours            GNU Go flags                                ko                   suicide
    simple-ko       --simple-ko --forbid-suicide (its default)  simple ko            forbidden
    chinese         --positional-superko --forbid-suicide       positional superko   forbidden
    tromp-taylor    --positional-superko --allow-all-suicide    positional superko   any size allowed
    new-zealand     --situational-superko --allow-all-suicide   situational superko  any size allowed

What GNU Go defines, read from its engine/board.c (`is_allowed_move`, `is_superko_violation`, which GTP
`play`, `is_legal` and `all_legal` all call) and confirmed by these games:

* Under every rule set GNU Go keeps the simple-ko ban (the point where one stone was just taken, when
  retaking would take back exactly one stone) even with superko, as we do; a pass clears it.
* `--allow-suicide` (plain) forbids single-stone suicide and allows larger ones; no rule set of ours
  does that, so it is not compared. `--allow-all-suicide` allows every suicide; suicided stones count
  as captured by the opponent in `captures`, as ours do.
* GNU Go 3.8 never finds a superko violation in a suicide: it evidently hashes the board for its superko
  check with the suiciding stones still on it, so the hash matches no earlier position. Seen here: a
  single-stone suicide under --positional-superko, and a suicide that repeats the position with the
  same player to move under --situational-superko, are both legal in GNU Go 3.8 (the GNU Go sources
  after 3.8 take the stones off and check the current position too). We bar a suicide whose result
  has occurred before; under positional superko that includes every single-stone suicide, which
  recreates the current position (Tromp-Taylor: "a position that has occurred previously in the
  game"). So on suicide points that we bar for superko alone GNU Go is expected to answer legal; they
  are counted as `suicide_superko_differences`. Every other point is compared as is.
* Situational superko in GNU Go compares with the positions before earlier moves whose mover was the
  opponent of the player now moving; with alternating moves (passes are moves, and our sequences
  alternate) that is our "same position, same player to move". Only the side to move is compared.
* GNU Go remembers 500 moves (MAX_MOVE_HISTORY) and then folds the oldest into its initial position,
  forgetting them for superko; our games stay well under 500 moves.
* GNU Go's board stops at 19x19.

The random sequences are biased so that the rules get exercised: half the moves are played next to the
previous move (fights, so captures and ko), suicide rules often play a suicide when one exists, and
tiny boards repeat positions so superko bans occur. The tests count ko captures, ko bans, suicide
attempts (points where the mover's stone would capture nothing and have no liberty, each judged by both
programs), suicides played and superko bans, and fail if a rule set saw none of those it defines. On
tiny boards they also count the points that tell the two superko flags apart, and require some: bans
that only positional superko makes (chinese, tromp-taylor) and repeats of the stones that situational
superko allows (new-zealand).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import pytest

from goengine import Position
from goengine.coords import gtp_to_row_col
from tests.gnugo import GnuGo, GtpError, gnugo_available, skip_reason

pytestmark = [pytest.mark.gnugo, pytest.mark.skipif(not gnugo_available(), reason=skip_reason())]

GNUGO_FLAGS = {
    "simple-ko": ("--simple-ko", "--forbid-suicide"),
    "chinese": ("--positional-superko", "--forbid-suicide"),
    "tromp-taylor": ("--positional-superko", "--allow-all-suicide"),
    "new-zealand": ("--situational-superko", "--allow-all-suicide"),
}
SUICIDE_ALLOWED = {"tromp-taylor", "new-zealand"}
SUPERKO = {"chinese", "tromp-taylor", "new-zealand"}
SITUATIONAL_TWIN = {"chinese": "aga", "tromp-taylor": "new-zealand"}
COLOUR_WORD = {"b": "black", "w": "white"}


@dataclass
class Tally:
    """What a batch of games exercised, and what disagreed."""

    games: int = 0
    moves: int = 0
    ko_captures: int = 0  # moves after which a simple-ko point existed
    ko_bans: int = 0  # positions where the side to move was barred from the ko point
    suicide_attempts: int = 0  # points whose stone would have no liberties, checked by both programs
    suicides_played: int = 0
    superko_bans: int = 0  # points legal by simple ko but barred by superko
    positional_only_bans: int = 0  # barred by positional superko, allowed by situational superko
    situational_allowances: int = 0  # allowed by situational superko, though the stones repeat
    suicide_superko_differences: int = 0  # suicides we bar by superko and GNU Go 3.8 allows, by design
    captures: int = 0  # moves that took stones
    mismatches: list[str] = field(default_factory=list)


LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


def _vertex(r: int, c: int) -> str:
    return f"{LETTERS[c]}{r + 1}"


def _neighbours(r: int, c: int, size: int) -> list[tuple[int, int]]:
    return [(rr, cc) for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
            if 0 <= rr < size and 0 <= cc < size]


@dataclass
class Situation:
    """The rule-relevant facts of a position for the side to move, from the board and chain liberties."""

    legal: set[str]  # our legal board moves for the side to move
    suicides: set[str]  # empty points where the mover's stone would capture nothing and have no liberty
    single_stone_suicides: set[str]  # the suicides that touch no friendly stone
    superko_bans: set[str]  # empty points barred by superko alone


def situation(pos: Position, rules: str) -> Situation:
    board = pos.board_array()
    size, me = pos.size, (1 if pos.to_play == "b" else 2)
    libs = {}

    def liberties(r, c):
        if (r, c) not in libs:
            libs[(r, c)] = pos.liberties(_vertex(r, c))
        return libs[(r, c)]

    suicides, single = set(), set()
    for r, c in zip(*np.nonzero(board == 0)):
        nbrs = _neighbours(r, c, size)
        if any(board[n] == 0 for n in nbrs):
            continue
        if any(board[n] == 3 - me and liberties(*n) == 1 for n in nbrs):
            continue  # a capture
        if all(board[n] == 3 - me or liberties(*n) == 1 for n in nbrs):
            suicides.add(_vertex(r, c))
            if all(board[n] == 3 - me for n in nbrs):
                single.add(_vertex(r, c))
    legal = set(pos.legal_moves()[:-1])
    superko = set()
    if rules in SUPERKO:
        rows, cols = np.nonzero(board == 0)
        empties = {_vertex(r, c) for r, c in zip(rows, cols)}
        superko = empties - legal - {pos.ko} - (set() if rules in SUICIDE_ALLOWED else suicides)
    return Situation(legal, suicides, single, superko)


def choose_move(pos: Position, rules: str, rng: random.Random, sit: Situation, pass_prob: float) -> str:
    board_moves = sorted(sit.legal)
    if not board_moves or rng.random() < pass_prob:
        return "pass"
    playable_suicides = sorted(sit.suicides & sit.legal)
    if playable_suicides and rng.random() < 0.25:
        return rng.choice(playable_suicides)
    last = pos.last_move
    if last not in (None, "pass") and rng.random() < 0.5:
        r, c = gtp_to_row_col(last, pos.size)
        near = [m for m in (_vertex(*n) for n in _neighbours(r, c, pos.size)) if m in sit.legal]
        if near:
            return rng.choice(near)
    return rng.choice(board_moves)


def our_game(size: int, rules: str, seed: int, max_moves: int, pass_prob: float, tally: Tally):
    """A seeded biased random game by our engine: the moves and, after each, what GNU Go must answer."""
    rng = random.Random(f"{size}-{rules}-{seed}")
    pos = Position(size=size, komi=0, rules=rules)
    # the situational twin of a positional rule set follows every move (it bars a subset), so points
    # only positional superko bars can be counted; they tell the two GNU Go flags apart
    twin = Position(size=size, komi=0, rules=SITUATIONAL_TWIN[rules]) if rules in SITUATIONAL_TWIN else None
    stone_hashes = {pos.hash}
    sit = situation(pos, rules)
    moves, expected = [], []
    while len(moves) < max_moves and not pos.is_over:
        move = choose_move(pos, rules, rng, sit, pass_prob)
        colour, before = pos.to_play, pos.captures
        pos = pos.play(move)
        stone_hashes.add(pos.hash)
        twin = twin.play(move) if twin is not None else None
        if move in sit.suicides:
            tally.suicides_played += 1
        elif pos.captures != before:
            tally.captures += 1
        moves.append((colour, move))
        board = pos.board_array()
        black = {_vertex(r, c) for r, c in zip(*np.nonzero(board == 1))}
        white = {_vertex(r, c) for r, c in zip(*np.nonzero(board == 2))}
        gnugo_legal = None
        if not pos.is_over:
            sit = situation(pos, rules)
            tally.suicide_attempts += len(sit.suicides)
            tally.ko_captures += pos.ko is not None
            tally.ko_bans += pos.ko is not None and pos.ko not in sit.legal
            # GNU Go 3.8 never finds a superko violation in a suicide (see the module docstring)
            by_design = sit.superko_bans & sit.suicides
            tally.superko_bans += len(sit.superko_bans - by_design)
            tally.suicide_superko_differences += len(by_design)
            gnugo_legal = sit.legal | by_design
            if twin is not None:
                tally.positional_only_bans += len(set(twin.legal_moves()[:-1]) - sit.legal - by_design)
            elif rules == "new-zealand" and size <= 5:  # playing every move is affordable on tiny boards
                tally.situational_allowances += sum(pos.play(m).hash in stone_hashes
                                                    for m in sit.legal - sit.suicides)
        expected.append((black, white, pos.captures["b"], pos.captures["w"], pos.to_play, gnugo_legal))
    tally.games += 1
    tally.moves += len(moves)
    return moves, expected


def compare_with_gnugo(gg: GnuGo, size: int, rules: str, seed: int, max_moves: int, pass_prob: float,
                       tally: Tally) -> None:
    moves, expected = our_game(size, rules, seed, max_moves, pass_prob, tally)
    commands = [f"boardsize {size}", "clear_board"]
    for (colour, move), (*_, to_play, legal) in zip(moves, expected):
        commands += [f"play {COLOUR_WORD[colour]} {move}", "list_stones black", "list_stones white",
                     "captures black", "captures white"]
        if legal is not None:
            commands.append(f"all_legal {COLOUR_WORD[to_play]}")
    replies = iter(gg.send_many(commands, check=False)[2:])
    for n, ((colour, move), (black, white, cap_b, cap_w, to_play, legal)) in enumerate(zip(moves, expected), 1):
        where = f"{rules} {size}x{size} seed {seed} move {n} ({colour.upper()} {move})"
        play_reply = next(replies)
        got = [next(replies) for _ in range(4)]
        if not isinstance(play_reply, str):
            tally.mismatches.append(f"{where}: GNU Go refused the move: {play_reply.message}")
            return  # the two boards have parted; later moves say nothing
        got_black, got_white = set(got[0].upper().split()), set(got[1].upper().split())
        if (got_black, got_white) != (black, white):
            tally.mismatches.append(f"{where}: stones differ: black only ours {black - got_black}, only GNU Go "
                                    f"{got_black - black}; white only ours {white - got_white}, only GNU Go "
                                    f"{got_white - white}")
            return
        if (int(got[2]), int(got[3])) != (cap_b, cap_w):
            tally.mismatches.append(f"{where}: captures ours b {cap_b} w {cap_w}, GNU Go b {got[2]} w {got[3]}")
        if legal is not None:
            gnugo_legal = set(next(replies).upper().split())
            if gnugo_legal != legal:
                tally.mismatches.append(f"{where}: legal moves of {to_play}: only ours {sorted(legal - gnugo_legal)}, "
                                        f"only GNU Go {sorted(gnugo_legal - legal)}")


@pytest.fixture(scope="module")
def gnugo_by_rules():
    engines = {rules: GnuGo(*flags) for rules, flags in GNUGO_FLAGS.items()}
    yield engines
    for gg in engines.values():
        gg.close()


def run_games(gnugo_by_rules, rules, games, label, require_events=True):
    tally = Tally()
    gg = gnugo_by_rules[rules]
    for size, seed, max_moves, pass_prob in games:
        compare_with_gnugo(gg, size, rules, seed, max_moves, pass_prob, tally)
    print(f"\n{label} {rules}: {tally.games} games, {tally.moves} moves, {tally.captures} captures, "
          f"{tally.ko_captures} ko captures, {tally.ko_bans} ko bans, {tally.suicide_attempts} suicide attempts, "
          f"{tally.suicides_played} suicides played, {tally.superko_bans} superko bans "
          f"({tally.positional_only_bans} positional only, {tally.situational_allowances} situational allowances), "
          f"{tally.suicide_superko_differences} suicides barred by superko only here, "
          f"{len(tally.mismatches)} mismatches")
    assert not tally.mismatches, "\n".join(tally.mismatches[:10])
    assert tally.captures > 0, tally
    if not require_events:
        return tally
    assert tally.ko_captures > 0 and tally.ko_bans > 0 and tally.suicide_attempts > 0, tally
    if rules in SUICIDE_ALLOWED:
        assert tally.suicides_played > 0, tally
    return tally


@pytest.mark.parametrize("rules", list(GNUGO_FLAGS))
def test_random_games_9x9(gnugo_by_rules, rules):
    run_games(gnugo_by_rules, rules, [(9, seed, 120, 0.01) for seed in range(50)], "9x9")


@pytest.mark.parametrize("rules", list(GNUGO_FLAGS))
def test_random_games_tiny_boards(gnugo_by_rules, rules):
    # 4x4 and 5x5 boards repeat whole-board positions often: the superko bans get exercised here
    games = [(size, seed, 120, 0.02) for size in (4, 5) for seed in range(15)]
    tally = run_games(gnugo_by_rules, rules, games, "tiny")
    if rules in SUPERKO:
        assert tally.superko_bans > 0, tally
    if rules in SITUATIONAL_TWIN:
        assert tally.positional_only_bans > 0, tally  # so --positional-superko is not --situational-...
    if rules == "new-zealand":
        assert tally.situational_allowances > 0, tally  # ... and the other way round


@pytest.mark.parametrize("rules", list(GNUGO_FLAGS))
def test_random_games_13x13_19x19(gnugo_by_rules, rules):
    # two long games: stones, captures and legality on the big boards (ko is exercised on 9x9)
    run_games(gnugo_by_rules, rules, [(13, 0, 250, 0.005), (19, 0, 300, 0.0)], "13x13 and 19x19",
              require_events=False)


@pytest.mark.slow
@pytest.mark.parametrize("rules", list(GNUGO_FLAGS))
def test_random_games_many(gnugo_by_rules, rules):
    games = ([(9, 1000 + s, 240, 0.01) for s in range(150)] + [(13, 1000 + s, 450, 0.005) for s in range(10)]
             + [(19, 1000 + s, 480, 0.0) for s in range(5)]
             + [(size, 1000 + s, 300, 0.02) for size in (3, 4, 5, 6, 7) for s in range(20)])
    run_games(gnugo_by_rules, rules, games, "slow")


def test_client_raises_on_error_replies(gnugo_by_rules):
    gg = gnugo_by_rules["simple-ko"]
    with pytest.raises(GtpError, match="unknown command"):
        gg.send("no_such_command")
    gg.send_many(["boardsize 9", "clear_board", "play black E5"])
    with pytest.raises(GtpError, match="illegal move"):
        gg.send("play white E5")
    assert gg.stones("black") == {"E5"}  # still in step after the errors
    # a batch bigger than one pipe buffer goes out in pieces, replies still in order
    replies = gg.send_many(["list_stones black", "list_stones white"] * 2000, check=False)
    assert replies == ["E5", ""] * 2000
