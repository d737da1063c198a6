"""`goengine train lee rl`: AlphaGo Lee's RL stage (rl/alphago_lee/reinforce.py) from the command line.

    goengine train lee rl --sl R/sl.pt --out R --minutes 30 --workers 2
    goengine train lee rl --out R --resume --steps 400          # carries on to 400 iterations

The policy games run on `--workers` Ray actors (the self-play workers of selfplay/worker.py, on an
embedded local Ray), or in this process with `--workers 0`. The run's settings are stored in R/rl.pt
and fixed when it is created; with --resume only --steps, --minutes, --workers, --threads and
--no-progress apply. Logs: R/rl/metrics.csv (one row per iteration, `winrate_vs_sl` every --eval-every),
R/rl/tensorboard, R/rl/rl.png; the opponent pool in R/rl/pool/.
"""
from __future__ import annotations

import functools
import math
import os
import sys

from goengine import checks
from goengine.cli import UserError


def add_arguments(parser) -> None:
    parser.add_argument("--sl", metavar="SL_PT", help="the SL policy to start from (R/sl.pt); not with --resume")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="the Lee run folder: writes RUN_DIR/rl.pt")
    parser.add_argument("--resume", action="store_true", help="continue the RL run in RUN_DIR")
    parser.add_argument("--steps", type=int, default=None, help="stop when the run has this many iterations")
    parser.add_argument("--minutes", type=float, default=None, help="stop after the iteration that passes this")
    parser.add_argument("--board-size", type=int, default=None, help="refuse an SL net for another size")
    parser.add_argument("--komi", type=float, default=7.5, help="komi of the games (default 7.5: no draws)")
    parser.add_argument("--games", type=int, default=64, help="games per iteration (the paper's mini-batch n: 128)")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                        help="plain SGD as the paper (default), or Adam (fewer iterations from a small net)")
    parser.add_argument("--snapshot-every", type=int, default=10,
                        help="iterations between snapshots added to the opponent pool (the paper: 500)")
    parser.add_argument("--baseline", choices=("none", "mean"), default="none",
                        help="reward baseline: none (b = 0) or mean (the mini-batch's mean reward)")
    parser.add_argument("--eval-every", type=int, default=5, help="iterations between matches against SL (0: none)")
    parser.add_argument("--eval-games", type=int, default=64, help="games of each match against SL")
    parser.add_argument("--max-moves", type=int, default=None, help="game length cap (default 2 N^2)")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors playing the games (0: in this process)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of this process (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


FLAG_OF_FIELD = {"board_size": "--board-size", "komi": "--komi", "games_per_iteration": "--games", "lr": "--lr",
                 "optimizer": "--optimizer",
                 "snapshot_every": "--snapshot-every", "baseline": "--baseline", "eval_every": "--eval-every",
                 "eval_games": "--eval-games", "max_moves": "--max-moves", "seed": "--seed"}


def _check(args) -> None:
    if args.steps is None and args.minutes is None:
        raise UserError("give --steps N or --minutes M")
    try:
        if args.steps is not None:
            checks.integer("--steps", args.steps, 1)
        if args.minutes is not None:
            checks.number("--minutes", args.minutes, 0, low_open=True)
        checks.integer("--workers", args.workers, 0)
        checks.integer("--threads", args.threads, 1)
        checks.output_folder("--out", args.out)
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.resume and args.sl:
        raise UserError("--sl starts a new run; with --resume the run's own start is used")
    if not args.resume and not args.sl:
        raise UserError("give --sl R/sl.pt (the SL policy to start from), or --resume")


def make_executor(workers: int, board_size: int, komi: float):
    """LocalSelfPlay for 0 workers, else an Orchestrator of `workers` actors on an embedded Ray."""
    from selfplay.orchestrator import LocalSelfPlay, Orchestrator
    from selfplay.selfplay_config import SelfPlayConfig

    config = SelfPlayConfig(board_size=board_size, komi=komi)
    if workers == 0:
        return LocalSelfPlay(config)
    try:
        return Orchestrator(config, workers, num_cpus=max(workers, os.cpu_count() or 1))
    except (ConnectionError, ValueError) as e:
        raise UserError(str(e)) from None


def run(args) -> int:
    _check(args)
    import torch
    from tqdm import tqdm

    from nets.go.checkpoint import CheckpointError
    from rl.alphago_lee.reinforce import RL_DIR, RL_FILE, Reinforce, ReinforceConfig, load_policy, plot_rl
    from rl.metrics_log import MetricsLog
    from selfplay.orchestrator import WorkersLostError

    torch.set_num_threads(args.threads)
    rl_path = os.path.join(args.out, RL_FILE)
    try:
        if args.resume:
            if not os.path.exists(rl_path):
                raise UserError(f"{rl_path} does not exist: nothing to resume (start with --sl)")
            reinforce = Reinforce.open(args.out, board_size=args.board_size)
        else:
            if os.path.exists(rl_path):
                raise UserError(f"{rl_path} exists: pass --resume to continue it, or choose another --out")
            _, meta = load_policy(args.sl, args.board_size)
            try:
                config = ReinforceConfig(board_size=meta.board_size, komi=args.komi, games_per_iteration=args.games,
                                         lr=args.lr, optimizer=args.optimizer, snapshot_every=args.snapshot_every,
                                         baseline=args.baseline,
                                         eval_every=args.eval_every, eval_games=args.eval_games,
                                         max_moves=args.max_moves, seed=args.seed)
            except ValueError as e:
                raise UserError(checks.renamed(e, FLAG_OF_FIELD)) from None
            reinforce = Reinforce.create(args.out, args.sl, config)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    config = reinforce.config
    executor = make_executor(args.workers, config.board_size, config.komi)
    chunk = max(1, math.ceil(config.games_per_iteration / max(1, args.workers)))
    progress = functools.partial(tqdm, leave=False, file=sys.stderr, disable=True if args.no_progress else None,
                                 dynamic_ncols=True)
    log_dir = os.path.join(args.out, RL_DIR)
    log = MetricsLog(log_dir, step_key="iteration")

    def report(row: dict) -> None:
        log.log(**row)
        if "winrate_vs_sl" in row:
            print(f"iteration {row['iteration']}: win rate vs SL {row['winrate_vs_sl']:.3f} "
                  f"({config.eval_games} games), vs pool opponent {row['score_vs_opponent']:.2f}",
                  file=sys.stderr, flush=True)

    try:
        reinforce.train(executor, steps=args.steps, minutes=args.minutes, chunk=chunk, on_iteration=report,
                        progress=progress)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    except WorkersLostError as e:
        print(f"goengine train: {e}; carry on with --resume", file=sys.stderr)
        return 1
    finally:
        executor.close()
        log.close()
    try:
        plot_rl(log_dir)
    except Exception as e:  # noqa: BLE001 - a missing plotting backend must not fail a finished run
        print(f"goengine train lee rl: no plot ({type(e).__name__}: {e})", file=sys.stderr)
    last = reinforce.history[-1] if reinforce.history else None
    summary = f"{reinforce.iteration} iterations; {rl_path}"
    if last is not None:
        summary += f"; win rate vs SL at iteration {last[0]}: {last[1]:.3f}"
    print(f"goengine train lee rl: {summary}")
    return 0
