"""`goengine train lee STAGE ...`: AlphaGo Lee's four training stages (Silver et al. 2016), one command each,
all writing into one run folder R that `goengine gtp --lee R` plays from.

    goengine data convert SGF_DIR --out D                      records -> sharded training data
    goengine train lee sl      --data D --out R                13-layer SL policy       R/sl.pt
    goengine train lee rollout --data D --out R                linear rollout policy    R/rollout.pt
    goengine train lee rl      --sl R/sl.pt --out R            REINFORCE against a pool R/rl.pt
    goengine train lee value   --policy R/rl.pt --out R        value net                R/value.pt
    goengine gtp --lee R --playouts 200                        the AlphaGo Lee player

Each stage's module offers `add_arguments(parser)` and `run(args)` (budgets --steps / --minutes, --resume).
"""
from __future__ import annotations

import importlib

STAGES = {
    "sl": ("selfplay.pipelines.lee_sl", "the supervised policy p_sigma from game records"),
    "rollout": ("selfplay.pipelines.lee_rollout", "the linear rollout policy p_pi from the same records"),
    "rl": ("selfplay.pipelines.lee_rl", "the RL policy p_rho: REINFORCE against a pool of its snapshots"),
    "value": ("selfplay.pipelines.lee_value", "the value net v_theta: one position per self-play game"),
}


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="stage", metavar="stage", required=True, parser_class=type(parser))
    for name, (module_name, help_text) in STAGES.items():
        importlib.import_module(module_name).add_arguments(sub.add_parser(name, help=help_text,
                                                                          description=help_text))


def run(args) -> int:
    return importlib.import_module(STAGES[args.stage][0]).run(args)
