"""Generate the SGF test corpus: GNU Go 3.8 against itself on 9x9, komi 7, Chinese rules.

    .venv/bin/python scripts/make_corpus.py --games 120 --out tests/fixtures/corpus

Each game pairs two GNU Go processes at chosen levels, each with its own `--seed`, so games differ.
A game ends when both pass in a row or at the move cap. The result written to RE is GNU Go's
`final_score` (area counting after it removes the stones it judges dead), and the root comment records
how the game ended and GNU Go's `final_status_list dead`, so tests/goengine/test_sgf.py can check our
Tromp-Taylor count of the same board against GNU Go's. About half the games use `--capture-all-dead`,
so that both players take dead stones off before passing and the plain board count must agree.

One pair of GNU Go processes runs at a time: the development machine has two shared cores.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from goengine.sgf import save_game  # noqa: E402
from tests.gnugo import GnuGo  # noqa: E402

# (black level, white level): mostly low levels, which play in well under 0.1 s a move on 9x9
LEVEL_PAIRS = [(1, 1), (1, 3), (3, 1), (2, 2), (1, 5), (5, 1), (3, 3), (2, 4), (5, 5), (1, 1), (4, 2), (10, 5)]


def play_game(levels: tuple[int, int], seed: int, size: int, komi: float, max_moves: int,
              capture_all_dead: bool) -> dict:
    """One game; returns its moves and what GNU Go said at the end."""
    extra = ["--capture-all-dead"] if capture_all_dead else []
    engines = {}
    try:
        for colour, level, s in (("b", levels[0], 2 * seed + 1), ("w", levels[1], 2 * seed + 2)):
            engines[colour] = GnuGo("--level", str(level), "--seed", str(s), "--never-resign", *extra)
            engines[colour].send_many([f"boardsize {size}", "clear_board", f"komi {komi}"])
        moves, colour = [], "b"
        while len(moves) < max_moves:
            move = engines[colour].send(f"genmove {colour}").upper()
            if move == "RESIGN":
                break
            move = "pass" if move == "PASS" else move
            other = "w" if colour == "b" else "b"
            engines[other].send(f"play {colour} {move}")
            moves.append((colour, move))
            if len(moves) >= 2 and moves[-1][1] == moves[-2][1] == "pass":
                break
            colour = other
        ended = ("two passes" if len(moves) >= 2 and moves[-1][1] == moves[-2][1] == "pass"
                 else "resignation" if len(moves) < max_moves else "move cap")
        score = engines["b"].send("final_score")
        dead = engines["b"].send("final_status_list dead").split()
        return {"moves": moves, "ended": ended, "score": score, "dead": sorted(v.upper() for v in dead)}
    finally:
        for engine in engines.values():
            engine.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tests/fixtures/corpus")
    parser.add_argument("--games", type=int, default=120)
    parser.add_argument("--size", type=int, default=9)
    parser.add_argument("--komi", type=float, default=7.0)
    parser.add_argument("--max-moves", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    seen = set()
    seed, written = args.first_seed, 0
    while written < args.games:
        index = written
        levels = LEVEL_PAIRS[seed % len(LEVEL_PAIRS)]
        capture_all_dead = seed % 2 == 0
        path = os.path.join(args.out, f"gnugo_{index:03d}_b{levels[0]}_w{levels[1]}.sgf")
        start = time.time()
        game = play_game(levels, seed, args.size, args.komi, args.max_moves, capture_all_dead)
        key = hashlib.sha1(repr(game["moves"]).encode()).hexdigest()
        if key in seen:  # GNU Go's seeds only break ties: a repeat is possible, so skip it
            print(f"seed {seed}: repeats an earlier game, skipped", flush=True)
            seed += 1
            continue
        seen.add(key)
        flags = " --capture-all-dead" if capture_all_dead else ""
        comment = (f"GNU Go 3.8 self-play by scripts/make_corpus.py: black --level {levels[0]} "
                   f"--seed {2 * seed + 1}{flags}, white --level {levels[1]} --seed {2 * seed + 2}{flags}; "
                   f"chinese rules, komi {args.komi:g}\n"
                   f"ended: {game['ended']}\n"
                   f"final_score: {game['score']}\n"
                   f"final_status_list dead: {' '.join(game['dead'])}")
        save_game(path, game["moves"], size=args.size, komi=args.komi, result=game["score"],
                  black_name=f"GNU Go 3.8 level {levels[0]}", white_name=f"GNU Go 3.8 level {levels[1]}",
                  rules="Chinese", comment=comment)
        print(f"{path}: {len(game['moves'])} moves, {game['ended']}, {game['score']}, "
              f"{len(game['dead'])} dead, {time.time() - start:.1f} s", flush=True)
        seed += 1
        written += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
