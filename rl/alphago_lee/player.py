"""The AlphaGo Lee player: goengine's one search tree (goengine/mcts/search.py) with AlphaGo's evaluation
(Silver et al. 2016, Methods "Search algorithm"; Extended Data Table 5 for the constants):

    P(s, a)  = p_σ(a|s) with softmax temperature β = 0.67: softmax(logits / β) over the sensible points
    V(s_L)   = (1 - λ) v_θ(s_L) + λ z_L,  z_L the result of one rollout of p_π from the leaf, λ = 0.5
    a_t      = argmax_a Q(s, a) + u(s, a),  u = c_puct P(s, a) sqrt(Σ_b N(s, b)) / (1 + N(s, a))

Leaves are gathered with virtual loss (n_vl = 3) and evaluated in batches of 8 (one forward pass of each
net per batch; the rollouts run in numba inside Search.apply): the paper's asynchronous search, with
the batch standing in for its GPU queue. c_puct is the paper's 5 halved, since our Q is a win rate in
[0, 1] where the paper's lies in [-1, 1]; unvisited moves start at the parent's value (no reduction), as
the paper's Q = 0 initialisation is neutral. The paper expands a leaf after n_thr = 40 visits; goengine's
PUCT expands on the first, as AlphaGo Zero does.

    player = make_lee_player("R", playouts=400, lam=0.5)

R is the folder `goengine train lee` wrote: R/sl.pt (priors), R/value.pt (v_θ; not read when λ = 1) and
R/rollout.pt (p_π; not read when λ = 0).

`make_lee_player(R, tree="rave")` (`--lee-search rave`) is the paper's expansion threshold on a CPU: the tree is the rollout
engine's (UCT-RAVE, heavy playouts, its knowledge priors standing in for the paper's placeholder tree
policy p_τ), and the SL policy's β-softmax, the mean of its 8 symmetries (`SLPolicy`), replaces the
placeholders as `prior_policy` x P pseudo-wins at the root and, with `--search prior_policy_visits=N`
(the paper's n_thr), at every node that reaches N visits. Leaves are valued by the playouts alone (λ = 1):
the net is called a few times a move instead of once a leaf, so the search keeps the rollout engine's
simulations a second. The planes are goengine.features.lee_planes_batch, the same
feature registry the trainers' `extract` uses. AlphaGo Lee's policy has no pass output: the pass gets a
fixed prior (`PASS_PRIOR`), all of it when no sensible point is left.
"""
from __future__ import annotations

import os

import numpy as np

from goengine import checks
from goengine.features import HISTORY, lee_planes_batch
from goengine.mcts.evaluators import LeafBatch, MixedEvaluator, RolloutEvaluator
from goengine.mcts.player import MCTSPlayer, PlayerConfig
from goengine.mcts.search_config import SearchConfig
from rl.net_player import CachedPolicy, NetMCTSPlayer

BETA = 0.67
"""Softmax temperature of the prior (Extended Data Table 5)."""
LAMBDA = 0.5
C_PUCT = 2.5
"""The paper's c_puct = 5 on values in [-1, 1], on our win rates in [0, 1]."""
VIRTUAL_LOSS = 3
BATCH = 8
PASS_PRIOR = 0.01
"""Prior of the pass while sensible points are left: enough for the search to try it at the end of a game."""
SENSIBLE_PLANE = 46
POLICY_PLANES = 48
SEARCHES = ("puct", "rave")
"""The Lee player's trees: "puct", the paper's (SL priors at every leaf, leaf value mixed by λ); "rave", the
rollout engine's tree given the SL priors at the root and at busy nodes (λ = 1)."""


def sl_priors(logits_A: np.ndarray, sensible_A: np.ndarray, beta: float = BETA,
              pass_prior: float = PASS_PRIOR) -> np.ndarray:
    """P over the N² points and pass: softmax(logits / β) over the sensible points, (1 - pass_prior) of
    the mass, the pass the rest (all of it when no point is sensible)."""
    area = len(logits_A)
    priors_A = np.zeros(area + 1, dtype=np.float32)
    if not sensible_A.any():
        priors_A[area] = 1.0
        return priors_A
    z = np.where(sensible_A, np.asarray(logits_A, dtype=np.float64) / beta, -np.inf)
    p = np.exp(z - z.max())
    priors_A[:area] = (1.0 - pass_prior) * p / p.sum()
    priors_A[area] = pass_prior
    return priors_A


class LeeEvaluator:
    """SL policy priors and value net values of a LeafBatch, from the 49 "lee_value" planes (the first
    48 are the policy's). With no value net (λ = 1) the values are 0.5 and the rollouts decide."""

    kind = "batch"
    history_length = HISTORY  # turns-since planes read 8 positions back

    def __init__(self, policy, value=None, beta: float = BETA, pass_prior: float = PASS_PRIOR):
        self.policy = policy.eval()
        self.value = value.eval() if value is not None else None
        self.beta = beta
        self.pass_prior = pass_prior
        self.positions = 0

    def evaluate(self, batch: LeafBatch) -> tuple[np.ndarray, np.ndarray]:
        import torch

        planes_BCHW = lee_planes_batch(batch, value=True)
        n, area = len(planes_BCHW), batch.size * batch.size
        with torch.no_grad():
            x = torch.from_numpy(planes_BCHW)
            logits_BA = self.policy(x[:, :POLICY_PLANES]).double().numpy() / self.beta
            v_B = self.value(x).double().numpy() if self.value is not None else np.zeros(n)
        sensible_BA = planes_BCHW[:, SENSIBLE_PLANE].reshape(n, area) > 0  # (B, N, N) -> (B, N²)
        priors_BA = np.stack([sl_priors(logits_BA[b], sensible_BA[b], beta=1.0, pass_prior=self.pass_prior)
                              for b in range(n)])  # logits are divided by β above
        self.positions += n
        return priors_BA, ((v_B + 1.0) / 2.0).astype(np.float32)


class SLPolicy(CachedPolicy):
    """The SL policy's priors for a Position (N² points, then pass), the mean over its 8 board symmetries
    (one batch of 8) of softmax(logits / β) over the sensible points: what the "rave" Lee player gives its
    tree through Search's `policy`. On a board of another size than the net's it gives None."""

    def __init__(self, policy, board_size: int, beta: float = BETA, pass_prior: float = PASS_PRIOR):
        import torch

        super().__init__(board_size)
        self.policy = policy.eval()
        self.beta = beta
        self.pass_prior = pass_prior
        self.calls = 0
        self._torch = torch

    def _policy(self, position) -> np.ndarray:
        from goengine import symmetries
        from goengine.features import extract

        self.calls += 1
        planes_CHW = extract(position, "lee_policy")
        batch = np.stack([symmetries.apply_planes(planes_CHW, k) for k in range(symmetries.N_SYMMETRIES)])
        with self._torch.inference_mode():
            logits_BA = self.policy(self._torch.from_numpy(batch)).double().numpy()
        area = self.board_size * self.board_size
        sensible_A = planes_CHW[SENSIBLE_PLANE].reshape(area) > 0  # (N, N) -> (N²)
        mean_A = np.zeros(area + 1)
        for k in range(symmetries.N_SYMMETRIES):
            p_A = sl_priors(logits_BA[k], np.ones(area, dtype=bool), self.beta, pass_prior=0.0)
            mean_A += symmetries.apply_policy(p_A, symmetries.invert(k), self.board_size)
        return sl_priors(np.log(np.maximum(mean_A[:area], 1e-30)), sensible_A, beta=1.0, pass_prior=self.pass_prior)


class LeeRolloutPlayer(MCTSPlayer):
    """The "rave" Lee player: the rollout engine's search with an SL policy's priors, on the net's board."""

    def __init__(self, board_size: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.board_size = board_size

    def prime(self) -> "LeeRolloutPlayer":
        """One forward pass before the first move: torch sets up its kernels at the first calls."""
        from goengine.position import Position

        self.search.policy(Position(self.board_size, 7.0))
        self.search.policy.clear()
        return self

    def genmove(self, position, colour, budget=None):
        if position.size != self.board_size:
            raise ValueError(f"this net plays {self.board_size}x{self.board_size} only, not "
                             f"{position.size}x{position.size}")
        return super().genmove(position, colour, budget)


def _load(path: str, net: str, feature_set: str, stage: str, board_size: int | None, also: tuple[str, ...] = ()):
    from nets.go.checkpoint import CheckpointError, load

    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path}: no such file (`goengine train lee {stage}` writes it)")
    model, meta = load(path, board_size=board_size, feature_set=feature_set)
    if meta.net != net and meta.net not in also:
        raise CheckpointError(f"checkpoint {path}: a {meta.net!r} net, not AlphaGo Lee's {net!r}")
    return model, meta


def make_lee_player(run_dir: str | os.PathLike, *, playouts: int | None = None, seconds: float | None = None,
                    lam: float = LAMBDA, seed: int | None = None, threads: int | None = None,
                    resign_threshold: float = 0.1, search: str | None = None,
                    tree: str = "puct") -> NetMCTSPlayer | LeeRolloutPlayer:
    """The AlphaGo Lee search over the nets in `run_dir`: `playouts` simulations per move, else `seconds`
    per move (default 1 s) when the caller gives no budget; leaf value (1 - lam) v_θ + lam z_rollout.
    `tree` "rave": the rollout engine's tree with the SL priors (module docstring), lam 1 only.
    CheckpointError or ValueError (one line) for a folder that lacks what lam needs or holds mismatched nets."""
    from rl.alphago_lee.rollout import load_rollout_policy

    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        what = "a file, not a folder" if os.path.exists(run_dir) else "no such folder"
        raise ValueError(f"AlphaGo Lee run folder {run_dir}: {what}")
    checks.number("--lambda", lam, 0, 1)
    if tree not in SEARCHES:
        raise ValueError(f"--lee-search is one of {', '.join(SEARCHES)}, not {tree!r}")
    if tree == "rave" and lam != 1:
        raise ValueError(f"--lee-search rave values leaves by the playouts alone (--lambda 1), not --lambda {lam:g}: "
                         f"its net gives priors only")
    for name, value in (("playouts", playouts), ("seconds", seconds), ("threads", threads)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, not {value}")
    # a channel-pruned policy (`goengine compress prune`, nets/compression/pruned_nets.py) plays as the SL one
    policy, meta = _load(os.path.join(run_dir, "sl.pt"), "lee_policy", "lee_policy", "sl", None,
                         also=("lee_policy_pruned",))
    size = meta.board_size
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if tree == "rave":
        config = PlayerConfig(playouts=playouts, seconds=seconds if seconds is not None else 1.0,
                              resign_threshold=resign_threshold)
        return LeeRolloutPlayer(size, config, SearchConfig(seed=seed or 0).overridden(search),
                                RolloutEvaluator(heavy=True), root_policy=SLPolicy(policy, size),
                                name=f"goengine-lee-{os.path.basename(os.path.abspath(run_dir))}-rave")
    value = None
    if lam < 1:
        value, _ = _load(os.path.join(run_dir, "value.pt"), "lee_value", "lee_value", "value", size)
    evaluator = LeeEvaluator(policy, value)
    if lam > 0:
        rollout_path = os.path.join(run_dir, "rollout.pt")
        if not os.path.exists(rollout_path):
            from nets.go.checkpoint import CheckpointError

            raise CheckpointError(f"checkpoint {rollout_path}: no such file (`goengine train lee rollout` writes it; "
                                  f"--lambda 0 plays without rollouts)")
        evaluator = MixedEvaluator(evaluator, lam=lam, policy=load_rollout_policy(rollout_path, size))
    min_visits = min(500, playouts) if playouts else 500
    config = PlayerConfig(playouts=playouts, seconds=seconds if seconds is not None else 1.0,
                          resign_threshold=resign_threshold, resign_min_visits=min_visits)
    search_config = SearchConfig(batch_size=BATCH, c_puct=C_PUCT, virtual_loss=VIRTUAL_LOSS, fpu_reduction=0.0,
                                 seed=seed or 0).overridden(search)
    return NetMCTSPlayer(size, config, search_config, evaluator,
                         name=f"goengine-lee-{os.path.basename(os.path.abspath(run_dir))}-lambda{lam:g}")
