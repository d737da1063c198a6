"""`goengine train rl`: REINFORCE, A2C or DQN on goengine/Go-v0 from the command line.

    goengine train rl --algo a2c --size 5 --opponent random --steps 100000 --out runs/a2c5
    goengine train rl --algo a2c --out runs/a2c5 --resume --steps 200000      # carries on to 200k moves
    goengine train rl --algo a2c --opponent mc:playouts=2 --random-fraction 0.5 --steps 150000 --out runs/a2c5mc
    goengine train rl --algo dqn --opponent goengine:playouts=4 --minutes 10 --out runs/dqn5

RUN_DIR gets metrics.csv (one row per evaluation: moves, games, win rate over --eval-games games,
losses; against the random and mc:playouts=P opponents these run on the vector env; a last row,
final_win_rate, is --eval-games games of goengine/Go-v0 itself), TensorBoard events in tensorboard/,
curves.png, and checkpoint.pt (nets, optimizer, curve), written at every evaluation. With --resume the run's settings come from its checkpoint; only --steps,
--minutes and --no-progress apply. The budget ends at --steps moves in all (resumed runs count the
moves before) or after --minutes, whichever comes first. Bad input is one line and exit status 2.
"""
from __future__ import annotations

import dataclasses
import os
import sys

from goengine import checks
from goengine.cli import UserError

ALGOS = {"reinforce": ("rl.algorithms.reinforce", "ReinforceConfig"), "a2c": ("rl.algorithms.a2c", "A2CConfig"),
         "dqn": ("rl.algorithms.dqn", "DQNConfig")}
ENVS = ("goengine/Go-v0",)


def add_arguments(parser) -> None:
    parser.add_argument("--algo", required=True, choices=sorted(ALGOS), help="the algorithm")
    parser.add_argument("--env", default=ENVS[0], help="gymnasium env id (goengine/Go-v0)")
    parser.add_argument("--size", type=int, default=5, help="board size N (default 5)")
    parser.add_argument("--komi", type=float, default=0.5, help="komi (default 0.5)")
    parser.add_argument("--opponent", default="random",
                        help="random (default) or mc:playouts=P (flat Monte Carlo, P playouts per candidate move), "
                             "both on the numba vector env; goengine:playouts=N, gnugo:level=L, katago:visits=V")
    parser.add_argument("--random-fraction", type=float, default=0.0, metavar="F",
                        help="with --opponent mc:playouts=P: this share of the training boards plays the random "
                             "opponent instead (a curriculum; evaluations play the mc opponent alone)")
    parser.add_argument("--agent-colour", choices=("black", "white", "random"), default="random",
                        help="the agent's colour in training games (evaluation alternates colours)")
    parser.add_argument("--steps", type=int, default=100_000, help="budget: agent moves in all (default 100000)")
    parser.add_argument("--minutes", type=float, default=None, help="budget: minutes of this invocation")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (created, or resumed)")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-envs", type=int, default=None, help="boards played at once (default: the algorithm's)")
    parser.add_argument("--eval-every", type=int, default=10_000, help="moves between evaluations")
    parser.add_argument("--eval-games", type=int, default=200, help="games per evaluation (colours alternate)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: the algorithm's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check(args) -> None:
    if args.env not in ENVS:
        raise ValueError(f"--env must be one of {', '.join(ENVS)}, not {args.env!r}")
    checks.integer("--size", args.size, 2, 19)
    checks.number("--komi", args.komi)
    checks.integer("--steps", args.steps, 1)
    checks.number("--random-fraction", args.random_fraction, 0, 1)
    if args.minutes is not None:
        checks.number("--minutes", args.minutes, 0, low_open=True)
    checks.seed("--seed", args.seed)
    if args.num_envs is not None:
        checks.integer("--num-envs", args.num_envs, 1)
    checks.integer("--eval-every", args.eval_every, 1)
    checks.integer("--eval-games", args.eval_games, 2)
    if args.lr is not None:
        checks.number("--lr", args.lr, 0, low_open=True)
    checks.integer("--threads", args.threads, 1)
    checks.output_folder("--out", args.out)
    from rl.envs.opponents import mc_playouts

    playouts = None if args.opponent == "random" else mc_playouts(args.opponent)
    if args.opponent != "random" and playouts is None:
        from goengine.opponents import parse_opponent

        parse_opponent(args.opponent)
    if args.random_fraction > 0 and playouts is None:
        raise ValueError("--random-fraction needs --opponent mc:playouts=P")


def _config(args, config_cls):
    from rl.algorithms.common import GoTask

    default = config_cls()
    task = dataclasses.replace(default.task, size=args.size, komi=args.komi, opponent=args.opponent,
                               agent_colour=args.agent_colour, random_fraction=args.random_fraction,
                               steps=args.steps, minutes=args.minutes,
                               seed=args.seed, eval_every=args.eval_every, eval_games=args.eval_games,
                               num_envs=args.num_envs or default.task.num_envs)
    assert isinstance(task, GoTask)
    return dataclasses.replace(default, task=task, **({"lr": args.lr} if args.lr is not None else {}))


def _resumed_config(args, config_cls):
    from rl.algorithms.common import GoTask, load_checkpoint

    saved = load_checkpoint(args.out, args.algo)["config"]
    task = GoTask(**{**saved["task"], "steps": args.steps, "minutes": args.minutes})
    return config_cls(**{**saved, "task": task})


def run(args) -> int:
    import importlib

    try:
        _check(args)
        module_name, config_name = ALGOS[args.algo]
        module = importlib.import_module(module_name)
        config_cls = getattr(module, config_name)
        config = _resumed_config(args, config_cls) if args.resume else _config(args, config_cls)
        if not args.resume and os.path.exists(os.path.join(args.out, "checkpoint.pt")):
            raise ValueError(f"--out {args.out} holds a run already: add --resume, or choose another folder")
    except (ValueError, TypeError) as e:
        raise UserError(str(e).splitlines()[0]) from None
    import torch

    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    try:
        out = module.train(config, run_dir=args.out, resume=args.resume, progress=not args.no_progress)
    except (ValueError, RuntimeError) as e:  # an opponent that will not start, a GTP engine that fails
        raise UserError(str(e).splitlines()[0]) from None
    task = config.task
    final = out["final"]
    print(f"{args.algo}: {out['step']} moves, {out['episodes']} training games; {final['wins']} wins, "
          f"{final['losses']} losses, {final['draws']} draws (win rate {out['win_rate']:.3f}) in "
          f"{task.eval_games} games of {args.env} against {task.opponent} on {task.size}x{task.size}; "
          f"{os.path.join(args.out, 'curves.png')}", file=sys.stderr)
    return 0
