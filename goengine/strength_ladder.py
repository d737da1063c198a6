"""`goengine ladder`: a fixed strength ladder, so that a net's Elo means the same in every run.

A gate chain (each generation against the best before it) inflates and says nothing outside its run. The
ladder instead is a set of rungs that never change (GNU Go at fixed levels, this engine's rollout search at
fixed playouts, KataGo at fixed visits), rated once against each other; any player is then placed on it by
a short match against the rungs near its strength, and gets an Elo anchored to the same scale.

    goengine ladder rate  --ladder ladder-9x9.json --games-per-pair 10     # play the rungs, fit their Elo
    goengine ladder place goengine:weights=run/best.pt,playouts=200 --ladder ladder-9x9.json --games 20
    goengine ladder show  --ladder ladder-9x9.json
    goengine ladder rate  --ladder ladder-9x9.json --add-below "goengine:playouts=10"   # a weaker bottom rung
    goengine ladder follow runs/zero9 --ladder ladder-9x9.json --every 5 --games 20 --playouts 200

Ratings: goengine/bradley_terry.py (maximum likelihood with BayesElo's prior, intervals from the Fisher
information); the anchor rung is held at 0 Elo. Placing a player holds the rungs' ratings
fixed and fits the player's alone; each next pair of games (colours swapped within the pair) goes to the
rung whose rating is nearest the player's current estimate, where a game tells most (p(1-p) is largest).

`follow` places every k-th generation of an AlphaGo Zero run folder (RUN_DIR/nets/genGGGGG.pt, and the
latest) and writes RUN_DIR/ladder.csv (generation, self-play core-hours so far from RUN_DIR/metrics.csv,
Elo and interval) and RUN_DIR/ladder.png: strength by self-play core-hour, the y-axis of every Zero
experiment. Run it beside training or after; a generation already placed is not played again.

The ladder file (JSON, written atomically after every game, so a killed run resumes where it stopped):

    format "goengine-ladder", version 1, size, komi, random_moves, anchor (a rung's spec), rungs (specs,
    weakest first), games [{"black", "white", "result", ...}] between rungs, placements {player: [games]}.

Most rungs are deterministic (GNU Go without --seed, a seeded search), so every game starts with
`random_moves` uniformly random moves (goengine.referee.random_opening), seeded by the two players and the
game's index: games differ, and a rerun of the same game is the same game.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import zlib

from goengine import checks, opponents
from goengine.atomic import atomic_open
from goengine.bradley_terry import Rating, fit
from goengine.gtp.client import EngineCrashed, EngineTimeout, GtpProcess
from goengine.referee import SETUP_TIMEOUT_S, MatchConfig, Referee, random_opening
from goengine.position import Position

FORMAT, VERSION = "goengine-ladder", 1

DEFAULT_RUNGS = (
    "goengine:playouts=10",  # added below the others for early Zero nets (ladder rate --add-below)
    "goengine:playouts=30",
    "goengine:playouts=100",
    "gnugo:level=1",
    "gnugo:level=5",
    "gnugo",  # level 10, GNU Go's default
    "goengine:playouts=1000",
    "goengine:playouts=10000",
    "katago:visits=1",
    "katago:visits=4",
    "katago:visits=16",
)
"""The rungs of the 9x9 ladder, roughly weakest first; GNU Go level 10 is the anchor at 0 Elo."""
DEFAULT_ANCHOR = "gnugo"


class LadderError(ValueError):
    """A ladder file that cannot be read or does not fit the command; the message names the file."""


# ---------------------------------------------------------------------------------------------- ratings
def _score(result: str, colour: str) -> float:
    """The score of the player of `colour` ("b"/"w") in a game with SGF result `result`."""
    winner = result[:1].upper()
    if winner not in "BW" or result in ("0", "Draw", "Jigo"):
        return 0.5
    return 1.0 if winner == colour.upper() else 0.0


def pair_scores(games: list[dict]) -> list[tuple[str, str, float]]:
    """(black, white, Black's score) of each game."""
    return [(g["black"], g["white"], _score(g["result"], "b")) for g in games]


# ---------------------------------------------------------------------------------------------- the file
def default_random_moves(size: int) -> int:
    """Random opening moves of a ladder game: 4 on 9x9, 8 on 19x19 (as `goengine data generate`)."""
    return max(2, round(4 * size / 9)) if size < 19 else 8


def new_ladder(size: int, komi: float, rungs: list[str], anchor: str, random_moves: int | None = None) -> dict:
    rungs = [str(opponents.parse_opponent(r)) for r in rungs]  # canonical, so files compare
    anchor = str(opponents.parse_opponent(anchor))
    if len(set(rungs)) != len(rungs):
        raise ValueError("the rungs repeat a player")
    if len(rungs) < 2:
        raise ValueError("a ladder needs at least 2 rungs")
    if anchor not in rungs:
        raise ValueError(f"the anchor {anchor} is not one of the rungs")
    random_moves = default_random_moves(size) if random_moves is None else random_moves
    checks.integer("random_moves", random_moves, 0, size * size - 1)
    return {"format": FORMAT, "version": VERSION, "size": size, "komi": komi, "random_moves": random_moves,
            "anchor": anchor, "rungs": rungs, "games": [], "placements": {}}


def add_below(data: dict, specs: list[str]) -> list[str]:
    """Put new rungs (weakest first) below the ladder's weakest, in place; returns them canonical. Only the
    pairs that include a new rung lack games, so `rate` plays just those; the fit then moves the old rungs
    only by what the new games say about the weakest of them (the anchor stays at 0)."""
    added = [str(opponents.parse_opponent(s)) for s in specs]
    if not added:
        raise ValueError("--add-below names no rung")
    repeated = sorted({s for s in added if s in data["rungs"] or added.count(s) > 1})
    if repeated:
        raise ValueError(f"already rungs of this ladder, or named twice: {', '.join(repeated)}")
    data["rungs"] = added + list(data["rungs"])
    return added


def load_ladder(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise LadderError(f"no ladder file {path} (make one with `goengine ladder rate --ladder {path}`)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LadderError(f"ladder file {path} cannot be read: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LadderError(f"{path} is not a goengine ladder file")
    if data.get("version") != VERSION:
        raise LadderError(f"{path}: ladder format version {data.get('version')!r}, this goengine reads {VERSION}")
    try:
        Position(int(data["size"]), float(data["komi"]))
        checks.integer("random_moves", data["random_moves"], 0)
        rungs, anchor = [str(r) for r in data["rungs"]], str(data["anchor"])
        if anchor not in rungs:
            raise ValueError(f"the anchor {anchor} is not a rung")
        for g in data["games"] + [g for games in data["placements"].values() for g in games]:
            if not {"black", "white", "result"} <= set(g):
                raise ValueError(f"a game without black, white and result: {g}")
    except (KeyError, TypeError, ValueError) as e:
        raise LadderError(f"ladder file {path} is damaged: {e}") from None
    return data


def save_ladder(path: str, data: dict) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")


def rung_ratings(data: dict) -> dict[str, Rating]:
    """The rungs' Elo from their games with one another, the anchor at 0."""
    rated = fit(pair_scores(data["games"]), {data["anchor"]: 0.0})
    missing = [r for r in data["rungs"] if r not in rated]
    if missing:
        raise ValueError(f"rungs without games yet: {', '.join(missing)}")
    return rated


def placement(data: dict, player: str) -> Rating:
    """`player`'s Elo from its placement games, the rungs held at their fitted ratings."""
    rungs = rung_ratings(data)
    return fit(pair_scores(data["placements"].get(player, [])), {r: v.elo for r, v in rungs.items()})[player]


# ---------------------------------------------------------------------------------------------- playing
class _Engines:
    """GTP engines started once each and kept for the whole command, named by canonical spec."""

    def __init__(self, size: int, workdir: str):
        self.size, self.workdir, self.running = size, workdir, {}

    def get(self, spec: str) -> GtpProcess:
        if spec not in self.running:
            opponent = opponents.parse_opponent(spec)
            folder = tempfile.mkdtemp(dir=self.workdir)
            engine = GtpProcess(opponents.command(opponent, board_size=self.size, workdir=folder), spec)
            try:
                engine.ensure_started()
                engine.identify(SETUP_TIMEOUT_S)
            except OSError as e:
                engine.close()
                raise ValueError(f"cannot start {spec}: {e.strerror or e}") from None
            except (EngineCrashed, EngineTimeout) as e:
                engine.close()
                raise ValueError(f"cannot start {spec}: {e}") from None
            engine.label = spec
            self.running[spec] = engine
        return self.running[spec]

    def close(self) -> None:
        for engine in self.running.values():
            engine.close()


def _play(data: dict, engines: _Engines, first: str, second: str, index: int, seconds_per_move: float | None):
    """One game between two specs; `index` decides colours (even: `first` takes Black)."""
    asks = tuple(opponents.parse_opponent(s).kind not in opponents.SCORING_IS_A_SEARCH for s in (first, second))
    config = MatchConfig(games=index + 1, size=data["size"], komi=data["komi"], seconds_per_move=seconds_per_move,
                         ask_to_score=asks)
    seed = zlib.crc32(f"{first}|{second}|{index}".encode())
    opening = random_opening(Position(data["size"], data["komi"]), data["random_moves"], seed)
    game = Referee(config, engines.get(first), engines.get(second)).play_game(index, opening)
    return {"black": game.black, "white": game.white, "result": game.result, "reason": game.reason,
            "moves": len(game.moves)}


def rung_pairs(rungs: list[str], reach: int = 2) -> list[tuple[str, str]]:
    """The pairs of rungs that play each other: each with the next `reach` rungs above it."""
    return [(rungs[i], rungs[j]) for i in range(len(rungs)) for j in range(i + 1, min(len(rungs), i + 1 + reach))]


def _between(games: list[dict], a: str, b: str) -> int:
    return sum(1 for g in games if {g["black"], g["white"]} == {a, b})


def rate(path: str, data: dict, games_per_pair: int, reach: int, seconds_per_move: float | None, report) -> None:
    pairs = rung_pairs(data["rungs"], reach)
    with tempfile.TemporaryDirectory(prefix="goengine-ladder-") as workdir:
        engines = _Engines(data["size"], workdir)
        try:
            for a, b in pairs:
                while (played := _between(data["games"], a, b)) < games_per_pair:
                    game = _play(data, engines, a, b, played, seconds_per_move)
                    data["games"].append(game)
                    save_ladder(path, data)
                    report(f"{game['black']} (B) vs {game['white']} (W): {game['result']} ({game['reason']}, "
                           f"{game['moves']} moves)")
                # a rung is used by at most `reach` pairs on each side: stop the ones no later pair needs
                for spec in list(engines.running):
                    if all(spec not in pair for pair in pairs[pairs.index((a, b)) + 1:]):
                        engines.running.pop(spec).close()
        finally:
            engines.close()


def place(path: str, data: dict, player: str, games: int, seconds_per_move: float | None, report) -> Rating:
    rungs = rung_ratings(data)
    played = data["placements"].setdefault(player, [])
    with tempfile.TemporaryDirectory(prefix="goengine-ladder-") as workdir:
        engines = _Engines(data["size"], workdir)
        try:
            while len(played) < games:
                estimate = fit(pair_scores(played), {r: v.elo for r, v in rungs.items()})[player].elo if played \
                    else rungs[data["anchor"]].elo
                count = {r: _between(played, player, r) for r in data["rungs"]}
                rung = min(data["rungs"], key=lambda r: (abs(rungs[r].elo - estimate), count[r]))
                for _ in range(min(2, games - len(played))):  # a pair of games, colours swapped
                    game = _play(data, engines, player, rung, _between(played, player, rung), seconds_per_move)
                    played.append(game)
                    save_ladder(path, data)
                    report(f"{game['black']} (B) vs {game['white']} (W): {game['result']} ({game['reason']}, "
                           f"{game['moves']} moves)")
        finally:
            engines.close()
    return placement(data, player)


# ---------------------------------------------------------------------------------------------- a run's curve
def _run_generations(run_dir: str) -> list[int]:
    folder = os.path.join(run_dir, "nets")
    if not os.path.isdir(folder):
        raise ValueError(f"{run_dir} holds no nets/ folder: not an AlphaGo Zero run folder")
    gens = sorted(int(name[3:8]) for name in os.listdir(folder)
                  if name.startswith("gen") and name.endswith(".pt") and name[3:8].isdigit() and len(name) == 11)
    if not gens:
        raise ValueError(f"{run_dir}/nets holds no generation checkpoints yet")
    return gens


def _core_hours(run_dir: str) -> dict[int, float]:
    """generation -> self-play core-hours up to and including it (RUN_DIR/metrics.csv; the wall time of
    self-play where an older run did not log its core-seconds)."""
    path = os.path.join(run_dir, "metrics.csv")
    out, total = {0: 0.0}, 0.0  # generation 0 is the initial net: no self-play yet
    if not os.path.exists(path):
        return out
    with open(path, newline="", encoding="utf-8") as f:
        for row in sorted(csv.DictReader(f), key=lambda r: int(float(r.get("generation") or 0))):
            seconds = row.get("selfplay_core_seconds") or row.get("selfplay_seconds") or ""
            try:
                total += float(seconds)
            except ValueError:
                continue
            out[int(float(row["generation"]))] = total / 3600
    return out


def follow(run_dir: str, path: str, data: dict, every: int, games: int, playouts: int,
           seconds_per_move: float | None, report) -> list[dict]:
    gens = _run_generations(run_dir)
    chosen = sorted({g for g in gens if g % every == 0} | {gens[-1]})
    hours = _core_hours(run_dir)
    rows = []
    for g in chosen:
        weights = os.path.abspath(os.path.join(run_dir, "nets", f"gen{g:05d}.pt"))
        player = str(opponents.parse_opponent(f"goengine:weights={weights},playouts={playouts}"))
        rating = place(path, data, player, games, seconds_per_move, report)
        rows.append({"generation": g, "selfplay_core_hours": hours.get(g, float("nan")), "elo": rating.elo,
                     "low": rating.low, "high": rating.high, "games": rating.games})
        report(f"generation {g}: {rating} Elo")
        _write_curve(run_dir, rows, data["anchor"])
    return rows


def _write_curve(run_dir: str, rows: list[dict], anchor: str) -> None:
    with atomic_open(os.path.join(run_dir, "ladder.csv"), "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    try:
        import matplotlib
    except ImportError:  # goengine alone does not need matplotlib; the CSV is the record
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [r["selfplay_core_hours"] for r in rows]
    x = hours if all(h == h for h in hours) else [r["generation"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(x, [r["elo"] for r in rows], yerr=[[r["elo"] - r["low"] for r in rows],
                                                    [r["high"] - r["elo"] for r in rows]], marker="o", capsize=3)
    ax.set_xlabel("self-play core-hours" if x is hours else "generation")
    ax.set_ylabel(f"ladder Elo ({anchor} = 0)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_open(os.path.join(run_dir, "ladder.png"), "wb") as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="action", required=True, parser_class=type(parser))
    r = sub.add_parser("rate", help="play the rungs against each other and fit their Elo (resumable)",
                       description="play the rungs against each other and fit their Elo (resumable)")
    r.add_argument("--ladder", required=True, metavar="FILE", help="the ladder file (created if missing)")
    r.add_argument("--games-per-pair", type=int, default=10, help="games between each two neighbouring rungs")
    r.add_argument("--reach", type=int, default=2, help="each rung plays the next REACH rungs above it")
    r.add_argument("--rungs", default=None,
                   help="new ladder only: the rungs' specs, weakest first, separated by spaces "
                        f"(default: {' '.join(DEFAULT_RUNGS)})")
    r.add_argument("--add-below", default=None, metavar="RUNGS",
                   help="existing ladder: new rungs below its weakest, weakest first, separated by spaces; only the "
                        "pairs they make are played (the old rungs' games are kept)")
    r.add_argument("--anchor", default=None, help=f"new ladder only: the rung held at 0 Elo (default {DEFAULT_ANCHOR})")
    r.add_argument("--size", type=int, default=None, help="new ladder only: board size (default 9)")
    r.add_argument("--komi", type=float, default=None, help="new ladder only: komi (default 7)")
    r.add_argument("--seconds-per-move", type=float, default=None, help="per-move limit (default: none)")
    p = sub.add_parser("place", help="rate a player by games against the rungs near its strength",
                       description="rate a player by games against the rungs near its strength (resumable)")
    p.add_argument("player", help="an opponent spec (goengine:weights=W,playouts=200), or a checkpoint path")
    p.add_argument("--ladder", required=True, metavar="FILE")
    p.add_argument("--games", type=int, default=20, help="placement games in all (those already played count)")
    p.add_argument("--seconds-per-move", type=float, default=None)
    for q in (r, p):
        q.add_argument("--json", action="store_true", help="print the ratings as JSON")
    f = sub.add_parser("follow", help="place every k-th generation of a Zero run; RUN_DIR/ladder.csv and .png",
                       description="place every k-th generation of an AlphaGo Zero run and plot Elo by core-hour")
    f.add_argument("run_dir", metavar="RUN_DIR")
    f.add_argument("--ladder", required=True, metavar="FILE")
    f.add_argument("--every", type=int, default=5, help="place generations divisible by this (and the latest)")
    f.add_argument("--games", type=int, default=20, help="placement games per generation")
    f.add_argument("--playouts", type=int, default=200, help="the net player's playouts a move")
    f.add_argument("--seconds-per-move", type=float, default=None)
    f.add_argument("--json", action="store_true")
    s = sub.add_parser("show", help="print the rungs' and placed players' ratings", description="print ratings")
    s.add_argument("--ladder", required=True, metavar="FILE")
    s.add_argument("--json", action="store_true")


def _player_spec(text: str) -> str:
    if text.endswith(".pt") and not opponents.is_spec(text):
        if not os.path.isfile(text):
            raise ValueError(f"no checkpoint {text}")
        text = f"goengine:weights={text}"
    return str(opponents.parse_opponent(text))


def _check_can_start(spec: str, size: int) -> None:
    """ValueError of one line if the engine of `spec` is not installed or its files are missing."""
    with tempfile.TemporaryDirectory(prefix="goengine-ladder-") as folder:
        opponents.command(opponents.parse_opponent(spec), board_size=size, workdir=folder)


def _table(data: dict) -> dict:
    out = {"size": data["size"], "komi": data["komi"], "anchor": data["anchor"], "rungs": {}, "players": {}}
    try:
        rungs = rung_ratings(data)
    except ValueError as e:
        out["error"] = str(e)
        return out
    out["rungs"] = {r: vars(rungs[r]) for r in data["rungs"]}
    for player, games in data["placements"].items():
        if games:
            out["players"][player] = vars(placement(data, player))
    return out


def _print_table(table: dict) -> None:
    if "error" in table:
        print(f"no ratings yet: {table['error']}")
        return
    width = max(len(n) for n in list(table["rungs"]) + list(table["players"]))
    print(f"{'rung':<{width}}  {'Elo':>6}  {'95% interval':>16}  games")
    for name, r in list(table["rungs"].items()) + [("", None)] + list(table["players"].items()):
        if r is None:
            if table["players"]:
                print(f"{'player':<{width}}")
            continue
        print(f"{name:<{width}}  {r['elo']:>+6.0f}  {r['low']:>+7.0f} to {r['high']:>+5.0f}  {r['games']}")


def run(args: argparse.Namespace) -> int:
    from goengine.cli import UserError

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        if getattr(args, "seconds_per_move", None) is not None:
            checks.number("--seconds-per-move", args.seconds_per_move, 0, low_open=True)
        if args.action == "rate":
            checks.integer("--games-per-pair", args.games_per_pair, 1)
            checks.integer("--reach", args.reach, 1)
            if os.path.exists(args.ladder):
                data = load_ladder(args.ladder)
                for flag, value in (("--rungs", args.rungs), ("--anchor", args.anchor), ("--size", args.size),
                                    ("--komi", args.komi)):
                    if value is not None:
                        raise UserError(f"{flag} is for a new ladder; {args.ladder} already exists")
                if args.add_below is not None:
                    added = add_below(data, args.add_below.split())
                    for spec in added:
                        _check_can_start(spec, data["size"])
                    save_ladder(args.ladder, data)
            elif args.add_below is not None:
                raise UserError(f"--add-below is for an existing ladder; {args.ladder} does not exist")
            else:
                rungs = args.rungs.split() if args.rungs is not None else list(DEFAULT_RUNGS)
                size, komi = args.size or 9, 7.0 if args.komi is None else args.komi
                Position(size, komi)  # bad size or komi: one line
                data = new_ladder(size, komi, rungs, args.anchor or DEFAULT_ANCHOR)
                for spec in data["rungs"]:  # a missing GNU Go or KataGo shows before any game
                    _check_can_start(spec, size)
                save_ladder(args.ladder, data)
            rate(args.ladder, data, args.games_per_pair, args.reach, args.seconds_per_move, report)
        elif args.action == "place":
            checks.integer("--games", args.games, 1)
            data = load_ladder(args.ladder)
            player = _player_spec(args.player)
            if player in data["rungs"]:
                raise UserError(f"{player} is a rung of this ladder; its rating is already fitted")
            _check_can_start(player, data["size"])
            rung_ratings(data)  # a ladder not rated yet fails before any game
            rating = place(args.ladder, data, player, args.games, args.seconds_per_move, report)
            if not args.json:
                print(f"{player}: {rating} Elo over {rating.games} games, anchored at {data['anchor']} = 0")
        elif args.action == "follow":
            checks.integer("--every", args.every, 1)
            checks.integer("--games", args.games, 1)
            checks.integer("--playouts", args.playouts, 1)
            data = load_ladder(args.ladder)
            _run_generations(args.run_dir)
            rung_ratings(data)
            rows = follow(args.run_dir, args.ladder, data, args.every, args.games, args.playouts,
                          args.seconds_per_move, report)
            if args.json:
                print(json.dumps(rows, indent=1))
            else:
                for row in rows:
                    print(f"generation {row['generation']}: {row['selfplay_core_hours']:.2f} self-play core-hours, "
                          f"{row['elo']:+.0f} Elo ({row['low']:+.0f} to {row['high']:+.0f})")
            return 0
        else:
            data = load_ladder(args.ladder)
    except ValueError as e:  # LadderError and bad specs included
        raise UserError(str(e)) from None
    table = _table(data)
    if args.json:
        print(json.dumps(table, indent=1))
    elif args.action != "place":
        _print_table(table)
    return 0
