"""Monte-Carlo tree search.

Start reading at player.py (`MCTSPlayer`: the Player that genmove, analysis and dead-stone estimates
go through), then search.py (one tree, three modes through the `Evaluator` protocol in evaluators.py;
its parameters in search_config.py),
then the numba kernels: _tree.py (select, expand, backup over the node array), _playout.py (light and
heavy playouts) and rollout_policy.py (AlphaGo's trained rollout policy p_pi, also usable in playouts).
gumbel.py is Gumbel AlphaZero's root search (sequential halving, completed-Q targets) for self-play.
Symbols follow the papers: N visits, W value sum, Q = W/N, P prior, U the exploration bonus; values are
win probabilities in [0, 1] for the player who made the move.
"""
