"""rl: game records, the AlphaGo Zero trainer and generation loop, Elo ratings, and the net as a GTP player.

Start reading at `records.py` (the one game-record schema self-play writes and trainers read), then
`alphago_zero/loop.py` (the AlphaGo Zero generation loop behind `goengine train zero`, rl/cli.py).
AlphaGo Lee training, the gymnasium env and the RL algorithms are not written yet (open issues).
"""
