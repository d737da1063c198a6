"""`goengine train ALGORITHM ...`: one entry for every trainer, each in its own module.

    goengine train zero ...     AlphaGo Zero's self-play loop        selfplay/pipelines/zero_cli.py
    goengine train lee STAGE    AlphaGo Lee's sl/rollout/rl/value    selfplay/pipelines/lee_cli.py
    goengine train rl ...       REINFORCE, A2C, DQN on the gym env   rl/algorithms/cli.py

Each module offers `add_arguments(parser)` and `run(args)`, like the subcommands of goengine/cli.py. All
are imported to build the parser, so each keeps torch, ray and the like inside its `run`.
"""
from __future__ import annotations

import importlib

ALGORITHMS = {
    "zero": ("selfplay.pipelines.zero_cli", "AlphaGo Zero: self-play, training and gating in a loop"),
    "lee": ("selfplay.pipelines.lee_cli", "AlphaGo Lee: sl, rollout, rl and value stages into one run folder"),
    "rl": ("rl.algorithms.cli", "REINFORCE, A2C or DQN on the gymnasium env goengine/Go-v0"),
}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="algorithm", metavar="algorithm", required=True,
                                parser_class=type(parser))
    for name, (module_name, help_text) in ALGORITHMS.items():
        importlib.import_module(module_name).add_arguments(sub.add_parser(name, help=help_text,
                                                                          description=help_text))


def run(args) -> int:
    return importlib.import_module(ALGORITHMS[args.algorithm][0]).run(args)
