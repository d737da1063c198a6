"""Compile the search kernels into the numba cache (called by goengine.warmup.warm)."""
from __future__ import annotations


def warm(sizes: tuple[int, ...] = (9,)) -> None:
    from goengine.mcts.evaluators import MixedEvaluator, RolloutEvaluator, UniformEvaluator
    from goengine.mcts.player import MCTSPlayer, PlayerConfig
    from goengine.mcts.rollout_policy import RolloutPolicy
    from goengine.mcts.search import Search
    from goengine.mcts.search_config import SearchConfig
    from goengine.position import Position

    for size in sizes:
        pos = Position(size=size).play("pass")
        config = SearchConfig(tree_nodes=20_000)
        for evaluator in (RolloutEvaluator(heavy=True), RolloutEvaluator(heavy=False), UniformEvaluator(),
                          RolloutEvaluator(policy=RolloutPolicy()), MixedEvaluator(UniformEvaluator(), 0.5),
                          MixedEvaluator(UniformEvaluator(), 0.5, policy=RolloutPolicy())):
            search = Search(evaluator, config)
            search.set_root(pos)
            search.run(sims=16)
            search.set_root(pos.play(search.analysis()[0].move))
        MCTSPlayer(PlayerConfig(dead_playouts=2), config).dead_stones(pos)
