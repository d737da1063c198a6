"""Pipelines: what plays games and trains on them in one run, on Ray workers or in this process.

    zero.py        the AlphaGo Zero generation loop (self-play -> train -> gate) and its run folder
    zero_cli.py    `goengine train zero`
    lee_cli.py     `goengine train lee sl|rollout|rl|value`: AlphaGo Lee's stages (lee_*.py), each over
                   the trainers of rl/alphago_lee/

They sit above rl/ (trainers, records, evaluators) and the rest of selfplay/ (workers, orchestrator,
arena), and nothing below imports them.
"""
