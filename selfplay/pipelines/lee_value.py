"""`goengine train lee value`: AlphaGo Lee's value stage (rl/alphago_lee/value.py) from the command line.

    goengine train lee value --policy R/rl.pt --out R --games 2000 --steps 4000 --workers 2
    goengine train lee value --policy R/rl.pt --out R --resume --steps 8000     # more steps, same data

Games (SL moves to a random U, one random move, RL moves to the end) are played on `--workers` Ray actors
(selfplay/worker.py) or in this process with `--workers 0`; the SL net is R/sl.pt unless --sl names
another. What it writes:

    R/value.pt              the value net trained on one position per game (feature set "lee_value")
    R/value/data.npz        the games' positions: one per game, split by game (reused by --resume)
    R/value/control.npz     every position of the same games; R/value/control.pt the net trained on them
    R/value/metrics.csv     train / val MSE during training; R/value/report.json the held-out figures
    R/value/fig2b.csv, .png MSE by move number of the value net and of rollouts (the paper's Fig. 2b)

--steps / --minutes budget each of the two trainings (the value net, then the control).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import sys

from goengine import checks
from goengine.cli import UserError

VALUE_FILE = "value.pt"
VALUE_DIR = "value"


def add_arguments(parser) -> None:
    parser.add_argument("--policy", required=True, metavar="RL_PT", help="the RL policy that finishes the games")
    parser.add_argument("--sl", metavar="SL_PT", default=None, help="the SL policy of the openings (default R/sl.pt)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="the Lee run folder: writes RUN_DIR/value.pt")
    parser.add_argument("--resume", action="store_true", help="reuse R/value's games and continue the training")
    parser.add_argument("--steps", type=int, default=None, help="training steps of each net")
    parser.add_argument("--minutes", type=float, default=None, help="minutes of each net's training")
    parser.add_argument("--board-size", type=int, default=None, help="refuse nets for another size")
    parser.add_argument("--komi", type=float, default=7.5)
    parser.add_argument("--games", type=int, default=2000, help="games to generate (one training position each)")
    parser.add_argument("--u-max", type=int, default=None, help="U is drawn from 0 .. U_MAX-1 (default N^2)")
    parser.add_argument("--filters", type=int, default=None, help="k of the value net (default: the policy's)")
    parser.add_argument("--layers", type=int, default=None, help="L of the value net (default: the policy's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--no-control", action="store_true", help="skip the all-positions control net")
    parser.add_argument("--rollouts", type=int, default=32,
                        help="rollouts per held-out position for Fig. 2b (0: skip the comparison)")
    parser.add_argument("--fig-positions", type=int, default=600, help="held-out positions of Fig. 2b at most")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors playing the games (0: in this process)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of this process (default 1)")
    parser.add_argument("--no-progress", action="store_true")


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
        checks.integer("--rollouts", args.rollouts, 0)
        checks.integer("--fig-positions", args.fig_positions, 1)
        checks.output_folder("--out", args.out)
    except ValueError as e:
        raise UserError(str(e)) from None


def _load_policies(args):
    from nets.go.checkpoint import CheckpointError
    from rl.alphago_lee.reinforce import load_policy

    sl_path = args.sl or os.path.join(args.out, "sl.pt")
    rl_model, rl_meta = load_policy(args.policy, args.board_size)
    sl_model, sl_meta = load_policy(sl_path, rl_meta.board_size)
    if sl_meta.config != rl_meta.config:
        raise CheckpointError(f"checkpoint {sl_path}: another architecture than {args.policy} "
                              f"({sl_meta.config} vs {rl_meta.config}); the RL net starts from the SL net")
    return sl_model, rl_model


def _train(name, path, model, data, train_config, args, log, progress):
    """Train (or continue) one value net to the budget, checkpointing it at `path`; -> steps done."""
    import torch

    from nets.go import checkpoint
    from nets.go.checkpoint import CheckpointError
    from rl.alphago_lee.value import train_value

    start_step, optimizer = 0, None
    if args.resume and os.path.exists(path):
        saved, meta = checkpoint.load(path, board_size=model.config.board_size, feature_set="lee_value")
        extra = meta.extra if isinstance(meta.extra, dict) else {}
        if extra.get("stage") != "value" or meta.config != dataclasses.asdict(model.config):
            raise CheckpointError(f"checkpoint {path}: not this run's value net (stage or architecture differs)")
        model.load_state_dict(saved.state_dict())
        start_step = int(extra.get("step", 0))
        optimizer = torch.optim.Adam(model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)
        optimizer.load_state_dict(extra["optimizer"])
    bar = progress(total=args.steps, initial=min(start_step, args.steps or 0), desc=name, unit="step")

    def on_step(step, loss):
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss:.3f}")

    def on_eval(step, train_mse, val_mse):
        log.log(step=step, **{f"{name}_train_mse": train_mse, f"{name}_val_mse": val_mse})

    def save(step, optimizer):
        checkpoint.save(path, model, feature_set="lee_value",
                        extra={"stage": "value", "positions": name, "step": step, "optimizer": optimizer.state_dict(),
                               "train": dataclasses.asdict(train_config)})

    try:
        step, optimizer = train_value(model, data, train_config, steps=args.steps, minutes=args.minutes,
                                      on_step=on_step, eval_every=max(50, (args.steps or 1000) // 20),
                                      on_eval=on_eval, start_step=start_step, optimizer=optimizer)
    finally:
        bar.close()
    save(step, optimizer)
    return step


def run(args) -> int:
    _check(args)
    import numpy as np
    import torch
    from tqdm import tqdm

    from nets.go.checkpoint import CheckpointError
    from rl.alphago_lee.value import (ValueData, ValueDataConfig, ValueTrainConfig, build_value_net, generate, mse,
                                      mse_by_move, predict, replay_boards, rollout_values)
    from rl.metrics_log import MetricsLog
    from selfplay.orchestrator import WorkersLostError
    from selfplay.pipelines.lee_rl import make_executor

    torch.set_num_threads(args.threads)
    out_dir = os.path.join(args.out, VALUE_DIR)
    value_path = os.path.join(args.out, VALUE_FILE)
    if not args.resume and os.path.exists(value_path):
        raise UserError(f"{value_path} exists: pass --resume to continue it, or choose another --out")
    try:
        sl_model, rl_model = _load_policies(args)
        size = rl_model.config.board_size
        data_config = ValueDataConfig(board_size=size, komi=args.komi, games=args.games, u_max=args.u_max,
                                      seed=args.seed)
        train_config = ValueTrainConfig(filters=args.filters, layers=args.layers, batch_size=args.batch_size,
                                        lr=args.lr, seed=args.seed)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    except ValueError as e:
        raise UserError(checks.renamed(e, {"games": "--games", "u_max": "--u-max", "komi": "--komi",
                                           "filters": "--filters", "layers": "--layers", "lr": "--lr",
                                           "batch_size": "--batch-size", "seed": "--seed"})) from None
    progress = functools.partial(tqdm, leave=False, file=sys.stderr, disable=True if args.no_progress else None,
                                 dynamic_ncols=True)
    data_path, control_path = os.path.join(out_dir, "data.npz"), os.path.join(out_dir, "control.npz")
    os.makedirs(out_dir, exist_ok=True)
    report: dict = {}
    if args.resume and os.path.exists(data_path):
        try:
            data = ValueData.load(data_path)
            control = ValueData.load(control_path) if os.path.exists(control_path) else None
        except (OSError, ValueError, KeyError) as e:
            raise UserError(f"{data_path}: cannot be read ({type(e).__name__}: {e})") from None
        if data.size != size:
            raise UserError(f"{data_path} holds {data.size}x{data.size} games, the nets play {size}x{size}")
    else:
        executor = make_executor(args.workers, size, args.komi)
        chunk = max(1, min(32, math.ceil(args.games / max(1, args.workers))))
        try:
            with progress(total=args.games, desc="games", unit="game") as bar:
                data, control, stats = generate(executor, sl_model, rl_model, data_config, chunk=chunk,
                                                progress=bar.update)
        except WorkersLostError as e:
            print(f"goengine train lee value: {e}; run the command again", file=sys.stderr)
            return 1
        finally:
            executor.close()
        data.save(data_path)
        control.save(control_path)
        report["games"] = stats
        print(f"goengine train lee value: {stats['games']} games ({stats['dropped_games']} ended before U+1), "
              f"{stats['moves']} moves in {stats['seconds']:.0f} s; {len(data)} positions, control {len(control)}",
              file=sys.stderr)
    counts = {s: data.count(s) for s in ("train", "val", "test")}
    if counts["train"] == 0 or counts["test"] == 0:
        raise UserError(f"too few positions ({counts}); generate more --games")
    log = MetricsLog(out_dir, step_key="step")
    try:
        value_net = build_value_net(rl_model.config, train_config)
        torch.manual_seed(args.seed)
        steps = _train("recipe", value_path, value_net, data, train_config, args, log, progress)
        report["value_net"] = {"steps": steps, "positions": counts,
                               **{f"{s}_mse": mse(value_net, data, s) for s in ("train", "val", "test")}}
        report["value_net"]["test_mse_constant"] = float(np.mean((data.z["test"] - data.z["train"].mean()) ** 2))
        control_net = None
        if control is not None and not args.no_control:
            control_net = build_value_net(rl_model.config, train_config)
            steps_c = _train("control", os.path.join(out_dir, "control.pt"), control_net, control, train_config,
                             args, log, progress)
            report["control_net"] = {"steps": steps_c, "positions": {s: control.count(s) for s in ("train", "test")},
                                     "train_mse": mse(control_net, control, "train"),
                                     "test_mse_one_per_game": mse(control_net, data, "test"),
                                     "test_mse_all_positions": mse(control_net, control, "test")}
            report["value_net"]["test_mse_all_positions"] = mse(value_net, control, "test")
    except CheckpointError as e:
        raise UserError(str(e)) from None
    finally:
        log.close()
    if args.rollouts > 0 and control is not None:
        report["fig2b"] = _fig2b(args, value_net, control, out_dir, predict, replay_boards, rollout_values,
                                 mse_by_move)
    from goengine.atomic import atomic_open

    with atomic_open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    v = report["value_net"]
    line = (f"value net test MSE {v['test_mse']:.3f} (constant guess {v['test_mse_constant']:.3f}, "
            f"train {v['train_mse']:.3f})")
    if "control_net" in report:
        c = report["control_net"]
        line += f"; all-positions control: test {c['test_mse_one_per_game']:.3f}, train {c['train_mse']:.3f}"
    print(f"goengine train lee value: {line}; {value_path}")
    return 0


def _fig2b(args, value_net, control, out_dir, predict, replay_boards, rollout_values, mse_by_move) -> dict:
    """MSE by move number on held-out positions (every position of the test games, at most
    --fig-positions of them): the value net, p_π rollouts (R/rollout.pt if present) and uniform random ones."""
    import numpy as np

    from rl.alphago_lee.rollout import load_rollout_policy

    n = control.count("test")
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(n, size=min(n, args.fig_positions), replace=False))
    size = control.size
    v = predict(value_net, control, "test")[pick]
    z = control.z["test"][pick]
    games, moves = control.game["test"][pick], control.move["test"][pick]
    boards = []
    for g in np.unique(games):
        boards += replay_boards(control.test_moves[int(g)], moves[games == g], size, args.komi)
    order = np.concatenate([np.flatnonzero(games == g) for g in np.unique(games)])
    boards_sorted = [None] * len(pick)
    for k, i in enumerate(order):
        boards_sorted[i] = boards[k]
    errors = {"value_net": (v - z) ** 2}
    rollout_pt = os.path.join(args.out, "rollout.pt")
    if os.path.exists(rollout_pt):
        policy = load_rollout_policy(rollout_pt, size)
        errors["rollouts_p_pi"] = (rollout_values(boards_sorted, args.komi, args.rollouts, policy=policy,
                                                  seed=args.seed) - z) ** 2
    errors["rollouts_uniform"] = (rollout_values(boards_sorted, args.komi, args.rollouts, seed=args.seed) - z) ** 2
    rows = mse_by_move(errors, moves, bucket=max(1, size * size // 8))
    import csv

    from goengine.atomic import atomic_open

    with atomic_open(os.path.join(out_dir, "fig2b.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _plot_fig2b(rows, list(errors), os.path.join(out_dir, "fig2b.png"), args.rollouts)
    return {"positions": int(len(pick)), "rollouts": args.rollouts,
            "overall": {k: float(e.mean()) for k, e in errors.items()}, "by_move": rows}


def _plot_fig2b(rows, names, path, rollouts) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl.metrics_log import save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        ax.plot([r["moves"] for r in rows], [r[name] for r in rows], marker="o",
                label=name if name == "value_net" else f"{name} ({rollouts} each)")
    ax.set_xlabel("move number")
    ax.set_ylabel("MSE against the outcome")
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
