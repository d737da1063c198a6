"""SGF game records (FF[4], https://www.red-bean.com/sgf/) read and written with sgfmill.

    record = load_game("game.sgf")            # a frozen GameRecord; SgfError on any bad input
    positions = replay(record)                # the start position, then one Position per move
    save_game("out.sgf", positions, result="B+3.5", black_name="Lee", white_name="AlphaGo")
    text = position_to_sgf(position)          # one position as setup stones (GTP printsgf)

sgfmill parses and serialises (text escaping, CA charsets, point letters); this module turns the tree
into GTP vertices and replays it with `Position`, so the rules are checked by the same code as play.
Only the main line is read. Setup (AB/AW/AE, PL) may appear in the root and in later nodes. A record
whose root has HA but no setup stones gets the GTP fixed placement, as old files relied on readers for
that, unless its first HA moves are Black's (stones placed as moves). Everything a file can get wrong
ends as `SgfError` naming the file: unreadable or malformed data, an unsupported board size, a setup
leaving a chain without liberties, an illegal move.
"""
from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

from sgfmill import sgf, sgf_grammar

from goengine import atomic
from goengine import coords
from goengine.handicap import fixed_handicap_vertices
from goengine.position import IllegalMove, Position
from goengine.rules import Rules, rules_from

# our rule set name -> the RU value other programs read (RU is free text; these are the usual spellings)
SGF_RULE_NAMES = {"chinese": "Chinese", "japanese": "Japanese", "aga": "AGA", "new-zealand": "NZ",
                  "tromp-taylor": "Tromp-Taylor", "simple-ko": "simple-ko"}
# RU spellings seen in the wild that rules_from does not know, mapped to the closest rule set here
_RU_ALIASES = {"korean": "japanese", "goe": "new-zealand", "ing": "new-zealand", "new zealand": "new-zealand",
               "tromp taylor": "tromp-taylor"}


class SgfError(ValueError):
    """A record that cannot be read or replayed; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Setup:
    """AB/AW/AE (and PL) in a node after the root: applied before move number `before_move` + 1."""

    before_move: int
    black: tuple[str, ...] = ()
    white: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()
    to_play: str | None = None


@dataclass(frozen=True)
class GameRecord:
    """One game's main line, in GTP vertices ("D4", "pass") and colours "b"/"w"."""

    size: int
    komi: float = 0.0
    handicap: int = 0
    """HA: the number of handicap stones (0 for none)."""
    setup_black: tuple[str, ...] = ()
    """AB in the root: handicap or problem stones."""
    setup_white: tuple[str, ...] = ()
    moves: tuple[tuple[str, str], ...] = ()
    result: str | None = None
    """RE as written, e.g. "B+3.5", "W+R", "0", "Void"."""
    black_name: str | None = None
    white_name: str | None = None
    rules: str | None = None
    """RU as written, e.g. "Chinese"."""
    to_play: str | None = None
    """PL in the root: who moves first, when the file says."""
    date: str | None = None
    comment: str | None = None
    """C in the root."""
    later_setup: tuple[Setup, ...] = ()
    source: str = field(default="<bytes>", compare=False)
    """The file name used in error messages."""


# --- reading ---

def load_game(path_or_bytes: str | os.PathLike | bytes, name: str | None = None) -> GameRecord:
    """Read the first game of an SGF file (a path) or of SGF bytes. SgfError on any bad input."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        source, data = name or "<bytes>", bytes(path_or_bytes)
    else:
        source = name or os.fspath(path_or_bytes)
        try:
            with open(path_or_bytes, "rb") as f:
                data = f.read()
        except OSError as e:
            raise SgfError(f"{source}: cannot read: {e.strerror or e}") from None
    try:
        coarse = sgf_grammar.parse_sgf_game(data)
    except ValueError as e:
        raise SgfError(f"{source}: not a readable SGF game: {e or 'malformed data'}") from None
    # the size first, so that a size sgfmill or this engine cannot take gets a plain message
    raw_size = coarse.sequence[0].get("SZ", [b"19"])[0].decode("ascii", "replace").strip()
    if not raw_size.isdigit() or not coords.MIN_SIZE <= int(raw_size) <= coords.MAX_SIZE:
        raise SgfError(f"{source}: unsupported board size SZ[{raw_size}] (this engine plays square boards "
                       f"from {coords.MIN_SIZE}x{coords.MIN_SIZE} to {coords.MAX_SIZE}x{coords.MAX_SIZE})")
    try:
        game = sgf.Sgf_game.from_coarse_game_tree(coarse)
        return _record(game, source)
    except SgfError:
        raise
    except (ValueError, LookupError) as e:  # a malformed property value, an unknown CA charset
        raise SgfError(f"{source}: {e or 'malformed property value'}") from None


def _record(game: sgf.Sgf_game, source: str) -> GameRecord:
    size = game.get_size()
    root = game.get_root()
    if root.has_property("GM") and root.get("GM") != 1:
        raise SgfError(f"{source}: not a game of Go (GM[{root.get('GM')}])")
    try:
        komi = float(game.get_komi())
    except ValueError:
        raise SgfError(f"{source}: bad komi KM[{root.get_raw('KM').decode('ascii', 'replace')}]") from None
    black, white, _empty = (_vertices(points) for points in root.get_setup_stones())
    moves, later = [], []
    for node in game.get_main_sequence():
        if node is not root and (node.has_setup_stones() or node.has_property("PL")):
            b, w, e = (_vertices(points) for points in node.get_setup_stones())
            later.append(Setup(len(moves), b, w, e, _get(node, "PL")))
        try:
            colour, move = node.get_move()
        except ValueError:
            colour, raw = node.get_raw_move()
            raise SgfError(f"{source}: move {len(moves) + 1} ({colour.upper()}[{raw.decode('ascii', 'replace')}]) "
                           f"is not a point of a {size}x{size} board") from None
        if colour is not None:
            moves.append((colour, "pass" if move is None else coords.row_col_to_gtp(*move)))
    return GameRecord(
        size=size, komi=komi, handicap=_handicap(root, source), setup_black=black, setup_white=white,
        moves=tuple(moves), result=_get(root, "RE"), black_name=_get(root, "PB"), white_name=_get(root, "PW"),
        rules=_get(root, "RU"), to_play=_get(root, "PL"), date=_get(root, "DT"),
        comment=_get(root, "C"), later_setup=tuple(later),
        source=source)


def _vertices(points: Iterable[tuple[int, int]]) -> tuple[str, ...]:
    return tuple(sorted(coords.row_col_to_gtp(r, c) for r, c in points))


def _get(node, identifier: str):
    """A property's interpreted value (text, or "b"/"w" for PL), or None when absent."""
    return node.get(identifier) if node.has_property(identifier) else None


def _handicap(root, source: str) -> int:
    if not root.has_property("HA"):
        return 0
    raw = root.get_raw("HA").decode("ascii", "replace").strip()
    try:
        n = int(raw)
    except ValueError:
        raise SgfError(f"{source}: bad handicap HA[{raw}]") from None
    return n if n >= 2 else 0  # HA[0] and HA[1] both mean an even game


# --- replaying ---

def record_rules(record: GameRecord) -> Rules:
    """The rule set a record asks for (RU), or Chinese when it names none this engine knows."""
    if record.rules:
        key = record.rules.strip().lower()
        try:
            return rules_from(_RU_ALIASES.get(key, key))
        except ValueError:
            pass
    return rules_from("chinese")


def replay(record: GameRecord, rules: str | Rules | None = None) -> list[Position]:
    """[start position after setup, position after move 1, ...]. SgfError for an illegal move.

    Side to move at the start: PL if given, else White after handicap stones, else the colour of the
    first move, else Black. Each move is played with its own colour, so records that let one side move
    twice (handicap placed as moves, edits) replay as written."""
    src = record.source
    try:
        start = Position(record.size, record.komi, record_rules(record) if rules is None else rules)
    except ValueError as e:
        raise SgfError(f"{src}: {e}") from None
    black, white = record.setup_black, record.setup_white
    n_handicap = record.handicap
    as_moves = len(record.moves) >= n_handicap and all(c == "b" for c, _ in record.moves[:n_handicap])
    if n_handicap and not black and not white and not as_moves:  # else the first moves place them
        try:
            black = tuple(fixed_handicap_vertices(record.handicap, record.size))
        except ValueError as e:
            raise SgfError(f"{src}: HA[{record.handicap}] without AB stones: {e}") from None
    handicap_stones = bool(black) and not white and record.handicap >= 2
    to_play = (record.to_play or ("w" if handicap_stones else None)
               or (record.moves[0][0] if record.moves else "b"))
    pos = start
    if black or white or to_play != "b":
        pos = _setup(pos, black, white, (), to_play, f"{src}: setup")
    positions = [pos]
    edits = {}
    for edit in record.later_setup:
        edits.setdefault(edit.before_move, []).append(edit)
    for n, (colour, move) in enumerate(record.moves, 1):
        for edit in edits.get(n - 1, ()):
            pos = _setup(pos, edit.black, edit.white, edit.empty, edit.to_play, f"{src}: setup before move {n}")
        if pos.passes >= 2:  # a record may go on after two passes (a clean-up phase): resume play
            pos = pos.resumed()
        try:
            pos = pos.play(move, colour)
        except IllegalMove as e:
            raise SgfError(f"{src}: move {n} ({colour.upper()} {move}) is illegal: {e.reason}") from None
        positions.append(pos)
    for edit in edits.get(len(record.moves), ()):  # setup after the last move edits the final position
        positions[-1] = pos = _setup(pos, edit.black, edit.white, edit.empty, edit.to_play,
                                     f"{src}: setup after the last move")
    return positions


def _setup(pos: Position, black, white, empty, to_play, where: str) -> Position:
    try:
        return pos.with_stones(black=black, white=white, empty=empty, to_play=to_play)
    except ValueError as e:
        raise SgfError(f"{where}: {e}") from None


# --- writing ---

def record_from_positions(positions: Sequence[Position] | Position, **game_info) -> GameRecord:
    """A GameRecord of a game given as replay()'s list of positions, or as one Position: one with an
    empty history is a start position (its stones become setup), one with moves must be reachable by
    those moves from an empty board. `game_info` sets the other GameRecord fields."""
    if isinstance(positions, Position):
        start, final = positions, positions
        if final.history:
            start = Position(final.size, final.komi, final.rules)
            replayed = start
            try:
                for colour, move in final.history:
                    replayed = replayed.play(move, colour)
            except IllegalMove:
                replayed = None
            if replayed is None or not (replayed.board_array() == final.board_array()).all():
                raise ValueError("this position's stones do not follow from its moves on an empty board "
                                 "(setup or handicap): pass the list of positions from its start instead")
    else:
        if not positions:
            raise ValueError("no positions to save")
        start, final = positions[0], positions[-1]
    board = start.board_array()
    black = tuple(coords.row_col_to_gtp(r, c) for r, c in zip(*(board == 1).nonzero()))
    white = tuple(coords.row_col_to_gtp(r, c) for r, c in zip(*(board == 2).nonzero()))
    is_handicap = len(black) >= 2 and not white and start.to_play == "w" and not start.history
    info = dict(size=final.size, komi=final.komi, handicap=len(black) if is_handicap else 0,
                setup_black=black, setup_white=white, moves=tuple(final.history[len(start.history):]),
                rules=SGF_RULE_NAMES.get(final.rules.name, final.rules.name), to_play=start.to_play,
                result=final.result() if final.resigned else None)
    info.update(game_info)
    return GameRecord(**info)


def game_to_sgf(record: GameRecord) -> bytes:
    """The record as SGF bytes (UTF-8)."""
    return _sgf_game(record).serialise()


def _sgf_game(record: GameRecord) -> sgf.Sgf_game:
    from goengine import __version__  # here, so that goengine/__init__ may import this module

    game = sgf.Sgf_game(record.size)
    root = game.get_root()
    root.set("AP", ("goengine", __version__))
    root.set("KM", float(record.komi))
    if record.rules:
        name = record.rules
        try:
            name = SGF_RULE_NAMES[rules_from(name).name]
        except ValueError:
            pass  # a rule set this engine does not know: written as given
        root.set("RU", name)
    for ident, value in (("PB", record.black_name), ("PW", record.white_name), ("RE", record.result),
                         ("DT", record.date), ("C", record.comment)):
        if value is not None:
            root.set(ident, value)
    if record.handicap >= 2:
        root.set("HA", record.handicap)
    root.set_setup_stones(_points(record.setup_black, record.size), _points(record.setup_white, record.size))
    expected_first = "w" if record.handicap >= 2 else "b"
    if record.to_play and record.to_play != expected_first:
        root.set("PL", record.to_play)
    edits = {}
    for edit in record.later_setup:
        edits.setdefault(edit.before_move, []).append(edit)
    for n in range(len(record.moves) + 1):
        for edit in edits.get(n, ()):
            node = game.extend_main_sequence()
            node.set_setup_stones(_points(edit.black, record.size), _points(edit.white, record.size),
                                  _points(edit.empty, record.size))
            if edit.to_play:
                node.set("PL", edit.to_play)
        if n < len(record.moves):
            colour, move = record.moves[n]
            node = game.extend_main_sequence()
            rc = coords.gtp_to_row_col(move, record.size)
            if rc is None:
                node.set_raw(colour.upper(), b"")  # FF[4] pass
            else:
                node.set_move(colour, rc)
    return game


def _points(vertices: Iterable[str], size: int) -> set[tuple[int, int]]:
    return {coords.gtp_to_row_col(v, size) for v in vertices}


def save_game(path: str | os.PathLike, game: GameRecord | Sequence[Position] | Position | Sequence[tuple[str, str]],
              *, size: int | None = None, result: str | None = None, komi: float | None = None,
              black_name: str | None = None, white_name: str | None = None, rules: str | None = None,
              comment: str | None = None, date: str | bool = True) -> None:
    """Write a game as SGF: SZ, KM, RU, PB/PW, RE, HA/AB for handicap, DT and the moves.

    `game` is a GameRecord, positions as replay() returns them (or one Position, see
    record_from_positions), or a list of (colour, vertex) moves from an empty board of `size` (komi
    7 unless given). Keyword arguments override the record's values; RU defaults to the positions'
    rule set, else "Chinese". date=True writes today's date (or the record's), False none.
    The file is written atomically: a temporary file in the same directory, then os.replace."""
    if isinstance(game, GameRecord):
        record = game
    elif isinstance(game, Position) or (game and isinstance(game[0], Position)):
        record = record_from_positions(game)
    else:
        if size is None:
            raise ValueError("a list of moves needs the board size: save_game(path, moves, size=...)")
        record = GameRecord(size=size, komi=7.0 if komi is None else komi, moves=tuple(map(tuple, game)))
    overrides = {k: v for k, v in dict(result=result, komi=komi, black_name=black_name, white_name=white_name,
                                       rules=rules, comment=comment).items() if v is not None}
    if date is True:
        overrides["date"] = record.date or datetime.date.today().isoformat()
    elif date is False:
        overrides["date"] = None
    else:
        overrides["date"] = date
    if not overrides.get("rules", record.rules):
        overrides["rules"] = "Chinese"
    write_atomically(path, game_to_sgf(replace(record, **overrides)))


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write data to path so that readers see the old file or the new one, never a torn one."""
    atomic.write_bytes(path, data)


def position_to_sgf(position: Position, *, black_name: str | None = None, white_name: str | None = None,
                    result: str | None = None) -> bytes:
    """One position as an SGF game with no moves: its stones as AB/AW and PL for the side to move,
    as GTP's printsgf writes it."""
    board = position.board_array()
    record = GameRecord(
        size=position.size, komi=position.komi,
        setup_black=tuple(coords.row_col_to_gtp(r, c) for r, c in zip(*(board == 1).nonzero())),
        setup_white=tuple(coords.row_col_to_gtp(r, c) for r, c in zip(*(board == 2).nonzero())),
        rules=SGF_RULE_NAMES.get(position.rules.name, position.rules.name), to_play=position.to_play,
        black_name=black_name, white_name=white_name, result=result)
    game = _sgf_game(record)
    # PL always: a position's side to move is part of it, whatever the stones suggest
    game.get_root().set("PL", position.to_play)
    return game.serialise()
