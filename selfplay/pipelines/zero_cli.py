"""`goengine train zero`: the AlphaGo Zero loop (selfplay/pipelines/zero.py) from the command line.

    goengine train zero --board-size 9 --workers 2 --out runs/z9 --minutes 60
    goengine train zero --out runs/z9 --resume --minutes 60          # carries on where it stopped
    goengine train zero --board-size 5 --komi 0.5 --net 2x16 --visits 32 --workers 0 --out runs/z5 --generations 10

Self-play runs on `--workers` Ray actors (an embedded local Ray unless `--address` joins a cluster), or in
this process with `--workers 0`. Everything lives in RUN_DIR (see zero.py); the run's settings are fixed
when it is created, so with `--resume` only --workers, --address, --minutes, --generations, --threads,
--no-progress, --lr, --resign-false-positives and the inference server's --inference-device, --inference-max-batch,
--inference-max-wait-ms and --inference-fp16 apply (and --board-size, if given, must match the run).
With --inference server the workers' leaves are evaluated by one inference actor (selfplay/inference.py),
on a GPU if there is one. Training steps run in this process, or with --train-mode sync|async on
--train-workers Ray workers (selfplay/training, docs/distributed.md); both may change on --resume. Bad
input (a missing or mismatched checkpoint, a run folder of another board size, an unreachable Ray
address, --inference-device cuda without a GPU) ends as one line.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys

from goengine import checks
from goengine.cli import UserError


def add_arguments(z) -> None:
    z.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (created, or resumed with --resume)")
    z.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    budget = z.add_mutually_exclusive_group()
    budget.add_argument("--generations", type=int, help="stop when the run has this many generations")
    budget.add_argument("--minutes", type=float, help="stop after the generation that passes this many minutes")
    z.add_argument("--workers", type=int, default=2, help="Ray self-play actors (0: self-play in this process)")
    z.add_argument("--address", help="join the Ray cluster at this address instead of starting a local one")
    z.add_argument("--board-size", type=int, default=None, help="board size N (default 9)")
    z.add_argument("--komi", type=float, default=None, help="komi (default 7 on 9x9 and larger, 0.5 below)")
    z.add_argument("--net", default="6x64", help="net preset (nets/go/presets.py): 6x64, 10x128, 2x16, ...")
    z.add_argument("--grow", default=None, metavar="G:NET[,G:NET...]",
                   help="grow the net mid-run, as KataGo and Leela Zero did: from generation G on, train (and, once "
                        "promoted, self-play) a NET-sized net (e.g. 8:4x16,20:6x32); a deeper net of the same width "
                        "starts as the old one with identity blocks, any other is first trained --bootstrap-steps "
                        "steps on the replay window (docs/grow.md)")
    z.add_argument("--bootstrap-steps", type=int, default=1000,
                   help="--grow: training steps on the replay window for a grown net that is not a deepening")
    z.add_argument("--weights", help="start from this checkpoint instead of a random net")
    z.add_argument("--aux-heads", action="store_true",
                   help="KataGo's ownership and score heads as extra training targets (docs/aux-heads.md)")
    z.add_argument("--global-pool", action="store_true",
                   help="KataGo's global pooling bias in every residual block (nets/go/zero_resnet.py)")
    z.add_argument("--pool-heads", action=argparse.BooleanOptionalAction, default=True,
                   help="KataGo's policy and value heads: global pooling instead of fully connected layers over "
                        "the board, the pass logit from the pooled features (nets/go/zero_resnet.py); the default "
                        "since it won its A/B (README); --no-pool-heads gives AlphaGo Zero's heads")
    z.add_argument("--ownership-weight", type=float, default=1.5, help="weight of the ownership loss (--aux-heads)")
    z.add_argument("--score-weight", type=float, default=1.0, help="weight of the score-margin loss (--aux-heads)")
    z.add_argument("--visits", type=int, default=200, help="root visits per self-play move")
    z.add_argument("--fast-visits", type=int, default=0,
                   help="playout-cap randomisation: visits of fast searches (0: off)")
    z.add_argument("--full-search-prob", type=float, default=0.25, help="playout-cap randomisation: P(full search)")
    z.add_argument("--gumbel", action="store_true",
                   help="Gumbel AlphaZero root search: sequential halving with --visits simulations, completed-Q "
                        "policy targets (docs/gumbel.md)")
    z.add_argument("--gumbel-m", type=int, default=16, help="Gumbel: moves sampled at the root (the paper's m)")
    z.add_argument("--forced-playouts", type=float, default=0.0, metavar="K",
                   help="KataGo's forced playouts, sqrt(K P N) visits for each root child, and policy target "
                        "pruning (KataGo: 2; 0: off; not with --gumbel)")
    z.add_argument("--score-utility", type=float, default=0.0, metavar="W",
                   help="KataGo's score utility: the search backs up the win probability mixed with the score "
                        "head's margin, weight W (e.g. 0.3; needs --aux-heads; 0: off)")
    z.add_argument("--parallel-games", type=int, default=32, help="games each worker plays at once")
    z.add_argument("--leaves-per-game", type=int, default=1, help="leaves each game adds to a net call")
    z.add_argument("--temperature-moves", type=int, default=None,
                   help="opening moves drawn in proportion to visits (default 30 N^2/361)")
    z.add_argument("--games", type=int, default=64, help="self-play games per generation")
    z.add_argument("--steps", type=int, default=100, help="training steps per generation")
    z.add_argument("--batch-size", type=int, default=256)
    z.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    z.add_argument("--lr", type=float, default=None,
                   help="learning rate (default 0.02). May change on --resume: the steps to come use the new one "
                        "(a drop by hand, as KataGo and Minigo runs do when the loss levels off)")
    z.add_argument("--schedule", choices=("constant", "step", "cosine"), default="constant",
                   help="learning-rate schedule: constant, step (divided by 10 after each --lr-drop-at "
                        "generation) or cosine (over --generations, default 100)")
    z.add_argument("--lr-drop-at", default=None, metavar="G[,G...]",
                   help="generations after which the learning rate is divided by 10 (implies --schedule step; "
                        "the paper's stepped rate, e.g. 150: see README's 9x9 run)")
    z.add_argument("--l2", type=float, default=1e-4, help="L2 coefficient c of c||theta||^2")
    z.add_argument("--window", type=int, default=5000, help="replay window: most recent games trained on")
    z.add_argument("--window-growth", action="store_true",
                   help="KataGo's growing window: starts at --window games and grows as (games played)^0.75 "
                        "once more have been played")
    z.add_argument("--gate-games", type=int, default=40, help="games per gating match (0: promote every candidate)")
    z.add_argument("--promote", type=float, default=0.55, help="gating score that promotes a candidate")
    z.add_argument("--resign-threshold", type=float, default=0.05, help="resign below this win rate (0: never)")
    z.add_argument("--resign-false-positives", type=float, default=None, metavar="SHARE",
                   help="AlphaGo Zero's automatic v_resign: before each generation, set the threshold so that at "
                        "most this share of recent resign-disabled games would have been resigned by their "
                        "winner (e.g. 0.05; default 0: --resign-threshold stays fixed). May change on --resume")
    from selfplay.cli import add_inference_arguments

    add_inference_arguments(z, note="; gating matches use torch")
    z.add_argument("--seed", type=int, default=0)
    z.add_argument("--threads", type=int, default=None, help="torch threads of this process (default: torch's)")
    z.add_argument("--no-progress", action="store_true", help="no progress bars")
    from selfplay.training.cli import add_training_arguments

    add_training_arguments(z)


# the flag of each config field that a flag sets (the configs check the values and name the field)
FLAG_OF_FIELD = {name: "--" + name.replace("_", "-") for name in (
    "board_size", "komi", "visits", "parallel_games", "leaves_per_game", "temperature_moves", "fast_visits",
    "full_search_prob", "resign_threshold", "seed", "inference", "batch_size", "optimizer", "lr", "schedule",
    "l2", "gate_games", "gumbel_m", "forced_playouts", "score_utility", "ownership_weight", "score_weight",
    "resign_false_positives")} | {
    "games_per_generation": "--games", "steps_per_generation": "--steps", "window_games": "--window",
    "promote_threshold": "--promote", "grow": "--grow", "bootstrap_steps":
    "--bootstrap-steps"}


def _lr_schedule(args) -> tuple[str, tuple[int, ...]]:
    """(schedule, milestones in training steps) from --schedule and --lr-drop-at (in generations)."""
    if args.lr_drop_at is None:
        if args.schedule == "step":
            raise ValueError("--schedule step needs --lr-drop-at G[,G...]: the generations after which to drop")
        return args.schedule, ()
    if args.schedule not in ("constant", "step"):
        raise ValueError(f"--lr-drop-at gives a step schedule, not --schedule {args.schedule}")
    generations = []
    for text in args.lr_drop_at.split(","):
        try:
            generation = int(text)
        except ValueError:
            raise ValueError(f"--lr-drop-at takes generations such as 150 or 150,300, not {args.lr_drop_at!r}") from None
        checks.integer("--lr-drop-at", generation, 1)
        generations.append(generation)
    if generations != sorted(set(generations)):
        raise ValueError(f"--lr-drop-at generations must increase, not {args.lr_drop_at!r}")
    checks.integer("--steps", args.steps, 1)
    return "step", tuple(g * args.steps for g in generations)


def _grow_plan(text: str | None) -> tuple[tuple[int, str], ...]:
    """--grow G:NET[,G:NET...] as (generation, net) pairs; ZeroRunConfig checks that each grows."""
    if text is None:
        return ()
    plan = []
    for entry in text.split(","):
        generation, colon, net = entry.strip().partition(":")
        if not colon or not generation.strip().lstrip("-").isdigit() or not net.strip():
            raise ValueError(f"--grow takes GENERATION:NET pairs such as 8:4x16 or 8:4x16,20:6x32, not {text!r}")
        plan.append((int(generation), net.strip()))
    return tuple(plan)


def _config(args):
    from nets.go.presets import zero_config
    from selfplay.pipelines.zero_config import ZeroRunConfig
    from rl.alphago_zero.trainer import TrainerConfig
    from selfplay.selfplay_config import SelfPlayConfig

    size = 9 if args.board_size is None else args.board_size
    komi = args.komi if args.komi is not None else (7.0 if size >= 9 else 0.5)
    try:
        net = zero_config(args.net, board_size=size, aux_heads=args.aux_heads, global_pool=args.global_pool,
                          pool_heads=args.pool_heads)
        selfplay = SelfPlayConfig(board_size=size, komi=komi, net=net, visits=args.visits,
                                  parallel_games=args.parallel_games, leaves_per_game=args.leaves_per_game,
                                  temperature_moves=args.temperature_moves, fast_visits=args.fast_visits,
                                  full_search_prob=args.full_search_prob, resign_threshold=args.resign_threshold,
                                  seed=args.seed, inference=args.inference, gumbel=args.gumbel,
                                  gumbel_m=args.gumbel_m, forced_playouts=args.forced_playouts,
                                  score_utility=args.score_utility)
        schedule, milestones = _lr_schedule(args)
        trainer = TrainerConfig(batch_size=args.batch_size, optimizer=args.optimizer,
                                lr=0.02 if args.lr is None else args.lr, schedule=schedule,
                                milestones=milestones, l2=args.l2,
                                ownership_weight=args.ownership_weight, score_weight=args.score_weight,
                                total_steps=max(1, (args.generations or 100) * args.steps))
        return ZeroRunConfig(selfplay=selfplay, trainer=trainer, games_per_generation=args.games,
                             steps_per_generation=args.steps, window_games=args.window,
                             window_growth=args.window_growth, grow=_grow_plan(args.grow),
                             bootstrap_steps=args.bootstrap_steps, gate_games=args.gate_games,
                             promote_threshold=args.promote, seed=args.seed,
                             resign_false_positives=args.resign_false_positives or 0.0)
    except ValueError as e:
        raise UserError(checks.renamed(e, FLAG_OF_FIELD)) from None


def _executor(config, args):
    from selfplay.cli import server_config
    from selfplay.orchestrator import LocalSelfPlay, Orchestrator
    from selfplay.training.cli import ray_cpus

    server = server_config(args, config.selfplay.inference, on_this_machine=not args.address)
    if args.workers == 0:
        if args.address:
            raise UserError("--address needs --workers of at least 1")
        return LocalSelfPlay(config.selfplay, server=server)
    try:
        return Orchestrator(config.selfplay, args.workers, address=args.address,
                            num_cpus=None if args.address else max(args.workers, os.cpu_count() or 1) + ray_cpus(args),
                            server=server)
    except (ConnectionError, ValueError) as e:
        raise UserError(str(e)) from None


def run(args) -> int:
    if args.generations is None and args.minutes is None:
        raise UserError("give --generations G or --minutes M")
    try:
        if args.generations is not None:
            checks.integer("--generations", args.generations, 1)
        if args.minutes is not None:
            checks.number("--minutes", args.minutes, 0, low_open=True)
        if args.threads is not None:
            checks.integer("--threads", args.threads, 1)
        checks.integer("--workers", args.workers, 0)
        from selfplay.training.cli import train_workers

        train_workers(args)
        if not args.resume:
            checks.output_folder("--out", args.out)
    except ValueError as e:
        raise UserError(str(e)) from None
    import torch
    from tqdm import tqdm

    from nets.go import checkpoint
    from nets.go.checkpoint import CheckpointError
    from selfplay.pipelines.zero import RunDirError, ZeroRun, initial_model
    from rl.alphago_zero.trainer import Trainer
    from rl.records import RecordError
    from selfplay.orchestrator import WorkersLostError

    if args.threads is not None:
        torch.set_num_threads(args.threads)  # the entry point owns the process
    run_dir = args.out
    executor = None
    try:
        if args.resume:
            zero_run = ZeroRun.open(run_dir, board_size=args.board_size)
            try:
                if args.resign_false_positives is not None:
                    zero_run.set_resign_false_positives(args.resign_false_positives)
                if args.lr is not None:
                    zero_run.set_lr(args.lr)
            except ValueError as e:
                raise UserError(checks.renamed(e, FLAG_OF_FIELD)) from None
            config = zero_run.config
            # the nets the next generation starts from, read now: a damaged one fails before Ray starts
            Trainer.load(zero_run.net_path(zero_run.state["generation"]), board_size=config.board_size)
            checkpoint.load(zero_run.net_path(zero_run.state["best"]), board_size=config.board_size)
        else:
            config = _config(args)
            if os.path.exists(os.path.join(run_dir, "state.json")):
                existing = ZeroRun.open(run_dir)  # a clear error for a folder of another board size first
                if existing.config.board_size != config.board_size:
                    raise RunDirError(f"{run_dir} is a {existing.config.board_size}x{existing.config.board_size} "
                                      f"run, not {config.board_size}x{config.board_size}")
                raise RunDirError(f"{run_dir} already holds a run: pass --resume to continue it, "
                                  f"or choose another --out")
            initial_model(config, args.weights)  # a bad --weights fails before Ray starts
        executor = _executor(config, args)  # before creating anything: an unreachable --address leaves no folder
        if not args.resume:
            zero_run = ZeroRun.create(run_dir, config, init_weights=args.weights)
    except (RunDirError, CheckpointError, RecordError) as e:
        if executor is not None:
            executor.close()
        raise UserError(str(e)) from None
    from selfplay.training.cli import backend_from_args

    try:
        zero_run.backend = backend_from_args(args, address=args.address)
    except UserError:
        executor.close()
        raise
    progress = functools.partial(tqdm, leave=False, file=sys.stderr, disable=True if args.no_progress else None,
                                 dynamic_ncols=True)

    server_seen = []  # the inference server's stats at the last report

    def report(m: dict) -> None:
        rate = m.get("positions_per_s", float("nan"))
        speed = "played before the restart" if rate != rate else f"{rate:.0f} positions/s"
        line = (f"generation {zero_run.state['generation']}: {m.get('games', 0)} games, {speed}, "
                f"loss {m.get('loss', float('nan')):.3f}")
        if "gate_score" in m:
            line += f", gate {m['gate_score']:.2f} ({'promoted' if m['promoted'] else 'kept best'})"
        stats = executor.inference_stats()
        if stats is not None:
            step = stats.since(server_seen[-1]) if server_seen else stats
            server_seen[:] = [stats]
            line += (f", inference server: mean batch {step.mean_batch:.1f} "
                     f"({step.requests_per_forward:.2f} requests per pass)")
        print(line, file=sys.stderr, flush=True)

    try:
        zero_run.run(executor, generations=args.generations, minutes=args.minutes, progress=progress,
                     on_generation=report)
    except (CheckpointError, RecordError) as e:
        raise UserError(str(e)) from None
    except WorkersLostError as e:  # not the user's doing, yet one line: the run resumes from where it stopped
        print(f"goengine train: {e}; carry on with --resume", file=sys.stderr)
        return 1
    finally:
        zero_run.backend.close()
        executor.close()
    print(f"goengine train zero: {zero_run.summary()}")
    return 0
