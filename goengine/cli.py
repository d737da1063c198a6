"""The one console script: `goengine <subcommand>`.

Each subcommand's module is imported only when that subcommand runs, so `goengine gtp` starts without
torch or ray. Errors a user can cause (bad flags, missing files, bad checkpoints) end as one line on
stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

# name -> (module, help). Each module offers add_arguments(parser) and run(args) -> int exit code.
SUBCOMMANDS = {
    "play": ("goengine.play", "play a game against the engine in the terminal"),
    "gtp": ("goengine.gtp.cli", "speak GTP on stdin/stdout (for Sabaki, GoGui, Lizzie, match referees)"),
    "match": ("goengine.match", "referee N games between two GTP engines (specs such as katago:visits=1, or commands)"),
    "ladder": ("goengine.strength_ladder", "a fixed strength ladder: rate its rungs once, then place any player on it by Elo"),
    "bench": ("bench.cli", "benchmarks printing JSON figures: board, mcts, nets, selfplay"),
    "train": ("selfplay.train_cli", "train networks: zero (the AlphaGo Zero loop), lee (AlphaGo Lee's stages), rl (REINFORCE, A2C, DQN)"),
    "selfplay": ("selfplay.cli", "self-play games with a network on Ray workers"),
    "data": ("selfplay.generate", "game records: data generate (games of strong engines), data convert (SGF collections -> training data)"),
    "compress": ("rl.compression.cli", "shrink a net: compress prune / distill / quantize, each a checkpoint gtp loads"),
    "install": ("goengine.install", "install optional extras: katago (KataGo and a net, an opponent for match)"),
}


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit status 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so that a run stops as it does on Ctrl-C (its `finally`
    blocks end the workers and keep what is finished on disk); the exit status is then 143, not 130."""


_terminated: list[int] = []  # SIGTERM seen: an error it causes on its way out (inside numba's compiler, say) is a stop


def _raise_terminated(signum, frame):
    _terminated.append(signum)
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage dump), still with exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _numba_cache_default() -> None:
    # a stable cache so jitted kernels compile once per machine, also for Ray workers
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "goengine-numba"))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="goengine", description="Go engine and reinforcement-learning toolkit")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == only:
            importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    _numba_cache_default()
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in SUBCOMMANDS:
        parser = build_parser()
        if command is None and not argv:
            parser.print_help()
            return 2
        parser.parse_args(argv)  # prints usage and exits 2 for unknown commands, or help for -h
        return 2
    parser = build_parser(only=command)
    args = parser.parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[command][0])
    in_main_thread = threading.current_thread() is threading.main_thread()
    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return int(module.run(args) or 0)
    except UserError as e:
        print(f"goengine {command}: {e}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Exception) as e:
        if isinstance(e, KeyboardInterrupt) or _terminated:
            if in_main_thread:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM while we leave ends us at once
            print(f"goengine {command}: {'terminated' if _terminated else 'interrupted'}", file=sys.stderr)
            return 143 if _terminated else 130
        if isinstance(e, (ValueError, OSError)):
            print(f"goengine {command}: {e}", file=sys.stderr)
            return 1
        raise
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)

if __name__ == "__main__":
    # run the imported module's main, so that goengine.cli.UserError raised by subcommands is this one
    from goengine.cli import main as _main

    sys.exit(_main())
