"""`goengine play`: a game against the engine in the terminal.

Type a vertex (D4), `pass`, `resign`, `undo` (takes back your last move and the engine's reply),
`hint` (the engine's suggestion for you), `board`, `help` or `quit`. Bad input re-prompts with the reason.
The game is saved as SGF when it ends.
"""
from __future__ import annotations

import datetime
import os
import sys
from typing import Callable, TextIO

from goengine import checks
from goengine.player_registry import add_player_arguments, make_player
from goengine.players import TimeBudget
from goengine.position import IllegalMove, Position
from goengine.warmup import ensure_warm

HELP = ("moves: a vertex like D4, or pass / resign / undo / hint / board / help / quit")


def add_arguments(parser) -> None:
    parser.add_argument("--colour", "--color", default="b", choices=["b", "w", "black", "white"],
                        help="the colour you play (default: black)")
    parser.add_argument("--size", type=int, default=9, help="board size, 2 to 25 (default 9)")
    parser.add_argument("--komi", type=float, default=7.0, help="komi (default 7)")
    parser.add_argument("--handicap", type=int, default=0, help="fixed handicap stones for Black (GTP placement)")
    parser.add_argument("--rules", default="chinese", help="chinese, tromp-taylor, new-zealand, aga, japanese")
    parser.add_argument("--sgf", default=None, help="where to save the game (default: game-<time>.sgf)")
    add_player_arguments(parser)


class TerminalGame:
    """The game loop, with input and output injected so tests can drive it."""

    def __init__(self, player, human: str, position: Position, read: Callable[[str], str], out: TextIO,
                 budget: TimeBudget | None = None):
        self.player, self.human, self.out, self.read = player, human, out, read
        self.budget = budget
        self.stack = [position]

    @property
    def position(self) -> Position:
        return self.stack[-1]

    def show(self) -> None:
        pos = self.position
        caps = pos.captures
        print(pos, file=self.out)
        last = f"last move: {pos.history[-1][0].upper()} {pos.last_move}" if pos.history else "no moves yet"
        print(f"{last}   captures: black {caps['b']}, white {caps['w']}   komi {pos.komi:g}", file=self.out)

    def engine_move(self) -> None:
        pos = self.position
        move = self.player.genmove(pos, pos.to_play, self.budget)
        name = "Black" if pos.to_play == "b" else "White"
        if move == "resign":
            self.stack.append(pos.resign())
            print(f"{name} (engine) resigns.", file=self.out)
            return
        self.stack.append(pos.play(move))
        print(f"{name} (engine) plays {move}", file=self.out)

    def human_turn(self) -> bool:
        """Read commands until a move is made; False when the human quits."""
        while True:
            try:
                text = self.read(f"{'Black' if self.human == 'b' else 'White'} to play> ").strip()
            except EOFError:
                return False
            word = text.lower()
            if word in ("quit", "exit", "q"):
                return False
            if word in ("help", "?", ""):
                print(HELP, file=self.out)
                continue
            if word == "board":
                self.show()
                continue
            if word == "hint":
                pos = self.position
                print(f"hint: {self.player.genmove(pos, pos.to_play, self.budget)}", file=self.out)
                continue
            if word == "undo":
                # take back the engine's reply and the human's move before it
                if len(self.stack) >= 3:
                    del self.stack[-2:]
                    self.show()
                else:
                    print("nothing to undo", file=self.out)
                continue
            if word == "resign":
                self.stack.append(self.position.resign())
                return True
            try:
                self.stack.append(self.position.play(text))
                return True
            except IllegalMove as e:
                print(f"{e}; try again ({HELP})", file=self.out)

    def run(self) -> Position:
        self.show()
        while not self.position.is_over:
            if self.position.to_play == self.human:
                if not self.human_turn():
                    print("game abandoned", file=self.out)
                    return self.position
            else:
                self.engine_move()
            self.show()
        print(f"Game over: {self.position.result()}", file=self.out)
        return self.position


def run(args) -> int:
    from goengine.cli import UserError

    human = args.colour[0]
    try:
        pos = Position(size=args.size, komi=args.komi, rules=args.rules)
        if args.handicap:
            pos = pos.with_handicap(args.handicap)
    except ValueError as e:
        raise UserError(str(e)) from None
    # the game is saved when it ends: a path that cannot take it, or would replace a file, fails now
    if args.sgf is not None and os.path.exists(args.sgf):
        raise UserError(f"--sgf {args.sgf} already exists: choose another file")
    try:
        checks.output_folder("the folder of --sgf", os.path.dirname(os.path.abspath(args.sgf or "game.sgf")))
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        player = make_player(args)
    except ValueError as e:
        raise UserError(str(e)) from None
    budget = TimeBudget(playouts=args.playouts, seconds=args.seconds) if (args.playouts or args.seconds) else None
    ensure_warm(announce=sys.stdout)  # a cold cache compiles now, not during the engine's first move
    print(f"You play {'Black' if human == 'b' else 'White'} on {args.size}x{args.size}, komi {args.komi:g}, "
          f"against {player.name}. {HELP}")
    game = TerminalGame(player, human, pos, read=input, out=sys.stdout, budget=budget)
    final = game.run()
    if final.history:
        from goengine import sgf

        path = args.sgf or f"game-{datetime.datetime.now():%Y%m%d-%H%M%S}.sgf"
        names = {"b": "you", "w": player.name} if human == "b" else {"b": player.name, "w": "you"}
        sgf.save_game(path, final, black_name=names["b"], white_name=names["w"],
                      result=final.result() if final.is_over else None)
        print(f"saved {os.path.abspath(path)}")
    return 0
