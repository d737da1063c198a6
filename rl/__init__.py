"""rl: records, losses, trainers (AlphaGo Lee and AlphaGo Zero), the gymnasium Go env and RL algorithms.

Start reading at `records.py` (the one game-record schema self-play writes and trainers read), then
`alphago_zero/loop.py` (the AlphaGo Zero generation loop behind `goengine train zero`, rl/cli.py).
"""
