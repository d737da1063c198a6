"""AlphaGo Zero (Silver et al. 2017, "Mastering the game of Go without human knowledge", Nature 550).

Start reading at `loop.py` (the generation loop and the run folder), then `evaluator.py` (the net as
the search's batch evaluator), `replay.py` (the window of recent games and symmetry augmentation) and
`trainer.py` (the loss, the optimizer and exact checkpoints). The games themselves are played by
selfplay/worker.py, on Ray by selfplay/orchestrator.py; `goengine train zero` is rl/cli.py.

Nothing is imported here: `rl.alphago_zero.evaluator` is imported by players that need only the net.
"""
