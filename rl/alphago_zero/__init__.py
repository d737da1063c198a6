"""AlphaGo Zero (Silver et al. 2017, "Mastering the game of Go without human knowledge", Nature 550).

Start reading at `trainer.py` (the loss, the optimizer and exact checkpoints), then `evaluator.py` (the
net as the search's batch evaluator) and `replay.py` (the window of recent games and symmetry
augmentation). The generation loop that drives them is selfplay/pipelines/zero.py; the games are played
by selfplay/worker.py, on Ray by selfplay/orchestrator.py; `goengine train zero` is
selfplay/pipelines/zero_cli.py.

Nothing is imported here: `rl.alphago_zero.evaluator` is imported by players that need only the net.
"""
