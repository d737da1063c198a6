"""Pipelines: what plays games and trains on them in one run, on Ray workers or in this process.

    zero.py        the AlphaGo Zero generation loop (self-play -> train -> gate) and its run folder
    zero_cli.py    `goengine train zero`

They sit above rl/ (trainers, records, evaluators) and the rest of selfplay/ (workers, orchestrator,
arena), and nothing below imports them.
"""
