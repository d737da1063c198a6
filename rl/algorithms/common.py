"""What the Go algorithms share: the small net, masked action choice, evaluation over games, the run's
files (metrics.csv + TensorBoard via rl.metrics_log, a checkpoint, a PNG of the curves).

Shapes: obs_BCNN float32 (B, 17, N, N); mask_BA int8/bool (B, A) with A = N*N + 1 (the last is pass).
"""
from __future__ import annotations

import math
import os
import random
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn

from goengine.atomic import atomic_open

CHECKPOINT = "checkpoint.pt"
CURVES = "curves.png"


@dataclass(frozen=True)
class GoTask:
    """The game the agent learns and how its budget is spent (shared by every Go algorithm)."""

    size: int = 5
    """Board size N."""
    komi: float = 0.5
    """Komi (0.5: no draws; 5x5 is small enough that komi decides little against weak play)."""
    opponent: str = "random"
    """Opponent spec (GoEnv's): "random" and "mc:playouts=P" train on the numba vector env; others on GoEnv,
    one board at a time."""
    random_fraction: float = 0.0
    """Share of the training boards that play the random opponent instead of `opponent` ("mc:playouts=P"
    only): a curriculum, games an untrained agent can win. Evaluations play `opponent` alone."""
    agent_colour: str = "random"
    """"black", "white" or "random" (each game draws the agent's colour)."""
    num_envs: int = 32
    """Boards stepped together (vector env; GoEnv runs this many one after another)."""
    steps: int = 60_000
    """Budget: agent moves over all boards."""
    minutes: float | None = None
    """Budget: wall-clock minutes (whichever budget ends first)."""
    eval_every: int = 10_000
    """Agent moves between evaluations (each logged and drawn on the curve)."""
    eval_games: int = 200
    """Games per evaluation."""
    seed: int = 0
    """Seeds torch, numpy, the envs and the evaluation games."""
    channels: int = 32
    """Width of the net's convolutions."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class GoNet(nn.Module):
    """Three 3x3 convolutions, then a policy head (logits over A actions) and a value head (tanh)."""

    def __init__(self, size: int, planes: int = 17, channels: int = 32):
        super().__init__()
        self.size, self.planes, self.channels = size, planes, channels
        a = size * size + 1
        self.trunk = nn.Sequential(
            nn.Conv2d(planes, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Flatten())  # (B, C, N, N) -> (B, C*N*N)
        self.policy = nn.Linear(channels * size * size, a)
        self.value = nn.Sequential(nn.Linear(channels * size * size, 64), nn.ReLU(), nn.Linear(64, 1), nn.Tanh())

    def forward(self, obs_BCNN: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(obs_BCNN)
        return self.policy(h), self.value(h).squeeze(-1)  # (B, A), (B,)


def masked(logits_BA: torch.Tensor, mask_BA) -> torch.Tensor:
    """Logits with illegal actions at -inf-like (a large negative, so softmax and argmax skip them)."""
    mask = torch.as_tensor(np.asarray(mask_BA), dtype=torch.bool)
    return logits_BA.masked_fill(~mask, -1e9)


def evaluate(act, task: GoTask, games: int | None = None, seed: int = 10_000, opponent: str | None = None) -> dict:
    """Play `games` games of goengine/Go-v0 (the GoEnv, positional superko) with act(obs_BCNN, mask_BA) ->
    actions_B choosing the agent's moves; colours alternate (half as Black). -> wins, losses, draws,
    win_rate (draws count half), seeds seed..seed+games-1."""
    from rl.envs.go_env import GoEnv

    games = games or task.eval_games
    wins = losses = draws = 0
    for colour in ("black", "white"):
        env = GoEnv(size=task.size, komi=task.komi, opponent=opponent or task.opponent, agent_colour=colour)
        try:
            for g in range(games // 2 if colour == "black" else games - games // 2):
                obs, info = env.reset(seed=seed + g + (0 if colour == "black" else games))
                while True:
                    a = int(act(obs[None], info["action_mask"][None])[0])
                    obs, reward, terminated, truncated, info = env.step(a)
                    if terminated or truncated:
                        break
                wins += reward > 0
                losses += reward < 0
                draws += reward == 0
        finally:
            env.close()
    return {"wins": wins, "losses": losses, "draws": draws, "win_rate": (wins + 0.5 * draws) / games}


def on_vector_env(opponent) -> bool:
    """Whether the numba vector env plays this opponent spec ("random", "mc:playouts=P")."""
    from rl.envs.opponents import mc_playouts

    return isinstance(opponent, str) and (opponent.strip() == "random" or mc_playouts(opponent) is not None)


def evaluate_vector(act, task: GoTask, games: int | None = None, seed: int = 10_000) -> dict:
    """As `evaluate` against task.opponent ("random" or "mc:playouts=P"), on the numba vector env (simple
    ko), all games at once: half the boards with the agent as Black, half as White, each board's first game
    counted."""
    from rl.envs.vector import GoVectorEnv

    games = games or task.eval_games
    results = []
    for colour, n in (("black", games // 2), ("white", games - games // 2)):
        env = GoVectorEnv(num_envs=n, size=task.size, komi=task.komi, opponent=task.opponent, agent_colour=colour)
        obs, info = env.reset(seed=seed + (colour == "white"))
        result = np.full(n, np.nan)
        while np.isnan(result).any():
            obs, reward, terminated, truncated, info = env.step(act(obs, info["action_mask"]))
            first = (terminated | truncated) & np.isnan(result)
            result[first] = reward[first]
        results.append(result)
    r = np.concatenate(results)
    wins, losses = int((r > 0).sum()), int((r < 0).sum())
    return {"wins": wins, "losses": losses, "draws": games - wins - losses,
            "win_rate": (wins + 0.5 * (games - wins - losses)) / games}


def greedy_act(net: GoNet, head: str = "policy"):
    """act(obs_BCNN, mask_BA): the net's best legal action (policy logits or Q values)."""
    def act(obs, mask):
        with torch.no_grad():
            out = net(torch.as_tensor(obs))
            scores = out[0] if head == "policy" else out
            return masked(scores, mask).argmax(-1).numpy()
    return act


def sample_act(net: GoNet, seed: int = 0):
    """act(obs_BCNN, mask_BA): a move drawn from the net's policy over the legal moves. Policy-gradient
    methods optimise this stochastic policy, so it is the one they are evaluated with (its argmax is not
    what they trained); the generator restarts from `seed` at each evaluation, so evaluations repeat."""
    state = {"gen": None}

    def act(obs, mask):
        with torch.no_grad():
            probs = torch.softmax(masked(net(torch.as_tensor(obs))[0], mask), -1)
        return torch.multinomial(probs, 1, generator=state["gen"]).squeeze(1).numpy()

    def restart():
        state["gen"] = torch.Generator().manual_seed(seed)
    act.restart = restart
    restart()
    return act


def uniform_act(seed: int = 0):
    """act(obs_BCNN, mask_BA): a uniform random legal action (what an untrained masked agent plays)."""
    rng = np.random.default_rng(seed)

    def act(obs, mask):
        return np.array([rng.choice(np.flatnonzero(m)) for m in mask])
    return act


def make_envs(task: GoTask):
    """The training envs: the numba vector env against the random or Monte Carlo opponent; else gymnasium's
    SyncVectorEnv of GoEnvs (same-step autoreset, so both return infos["final_obs"] the same way)."""
    import gymnasium as gym

    import rl.envs  # noqa: F401  (registers goengine/Go-v0)

    kw = dict(size=task.size, komi=task.komi, opponent=task.opponent, agent_colour=task.agent_colour)
    if on_vector_env(task.opponent):
        return gym.make_vec("goengine/Go-v0", num_envs=task.num_envs, vectorization_mode="vector_entry_point",
                            random_fraction=task.random_fraction, **kw)
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    from rl.envs.go_env import GoEnv
    return SyncVectorEnv([lambda: GoEnv(**kw) for _ in range(task.num_envs)], autoreset_mode=AutoresetMode.SAME_STEP)


def finished(infos: dict, done_B: np.ndarray, next_obs_BCNN: np.ndarray) -> np.ndarray:
    """The observation each board ended on where it ended (same-step autoreset), else next_obs."""
    if "final_obs" not in infos or not done_B.any():
        return next_obs_BCNN
    out = next_obs_BCNN.copy()
    for b in np.flatnonzero(done_B):
        out[b] = infos["final_obs"][b]
    return out


# --- the run's files -----------------------------------------------------------------------------------
def save_checkpoint(run_dir: str, algo: str, config, modules: dict[str, nn.Module | torch.optim.Optimizer],
                    state: dict) -> None:
    """RUN_DIR/checkpoint.pt, atomically: the algorithm's name and config, the state dicts of `modules`
    (nets, optimizers), `state` (plain numbers and lists: step, episodes, curve) and torch's RNG state.
    A resumed run starts new games (envs and numpy generators are seeded from seed + step), so it
    continues the training, not the exact sequence an unbroken run would have played."""
    payload = {"format": "goengine-rl", "algo": algo, "config": _plain(asdict(config)),
               "modules": {k: m.state_dict() for k, m in modules.items()}, "state": state,
               "torch_rng": torch.get_rng_state()}
    with atomic_open(os.path.join(run_dir, CHECKPOINT), "wb") as f:
        torch.save(payload, f)


def load_checkpoint(run_dir: str, algo: str) -> dict:
    """The payload save_checkpoint wrote (weights-only load); ValueError of one line if it is not there,
    not readable, or another algorithm's."""
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise ValueError(f"--resume: no {CHECKPOINT} in {run_dir}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any damage to the file means it cannot be used; say which file
        raise ValueError(f"{path}: cannot be read ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != "goengine-rl":
        raise ValueError(f"{path}: not a goengine train rl checkpoint")
    if payload["algo"] != algo:
        raise ValueError(f"{path} is a {payload['algo']} run, not {algo}")
    return payload


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def plot_curves(run_dir: str, title: str, curve: list[dict], baseline: float | None = None) -> str:
    """RUN_DIR/curves.png: evaluation win rate against agent moves (and the untrained agent's as a line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl.metrics_log import save_figure

    fig, ax = plt.subplots(figsize=(6, 3.6))
    xs = [c["step"] for c in curve]
    ax.plot(xs, [c["win_rate"] for c in curve], marker="o", label="win rate (eval games)")
    if any("train_win_rate" in c for c in curve):
        ax.plot(xs, [c.get("train_win_rate", math.nan) for c in curve], marker=".", alpha=0.6,
                label="win rate (training games)")
    if baseline is not None:
        ax.axhline(baseline, color="grey", linestyle="--", label="untrained (uniform legal moves)")
    ax.set_ylim(0, 1)
    ax.set_xlabel("agent moves")
    ax.set_ylabel("win rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return save_figure(fig, os.path.join(run_dir, CURVES))


class Run:
    """The loop around an algorithm: budget (steps, minutes), evaluation every `eval_every` moves, metrics
    (CSV + TensorBoard when run_dir is given), the curve, checkpoints and --resume, a progress bar."""

    def __init__(self, algo: str, config, act_fn, modules: dict, run_dir: str | None = None,
                 resume: bool = False, progress: bool = False, tensorboard: bool = True):
        import time

        from tqdm import tqdm

        self.algo, self.config, self.task = algo, config, config.task
        self.act_fn, self.modules, self.run_dir = act_fn, modules, run_dir
        self.step, self.episodes, self.curve, self.extra = 0, 0, [], {}
        self._train_results: list[float] = []
        if resume:
            payload = load_checkpoint(run_dir, algo)
            for k, m in modules.items():
                m.load_state_dict(payload["modules"][k])
            s = payload["state"]
            self.step, self.episodes, self.curve, self.extra = s["step"], s["episodes"], s["curve"], s["extra"]
            torch.set_rng_state(payload["torch_rng"])
        self._next_eval = (self.step // self.task.eval_every + 1) * self.task.eval_every
        self.log = None
        if run_dir is not None:
            from rl.metrics_log import MetricsLog

            self.log = MetricsLog(run_dir, step_key="step", tensorboard=tensorboard)
        self._start = time.monotonic()
        self._time = time.monotonic
        self.bar = tqdm(total=self.task.steps, initial=self.step, disable=not progress, unit="move",
                        desc=algo, dynamic_ncols=True)
        if not self.curve:
            self._evaluate()

    @property
    def over(self) -> bool:
        minutes = self.task.minutes
        return self.step >= self.task.steps or (minutes is not None and self._time() - self._start >= 60 * minutes)

    def advance(self, moves: int, rewards_of_ended_games=(), **losses) -> None:
        """Count `moves` agent moves and the results of games that ended; evaluate when due."""
        self.step += moves
        self.bar.update(moves)
        for r in rewards_of_ended_games:
            self._train_results.append(float(r))
            self.episodes += 1
        if self.step >= self._next_eval or self.over:
            self._next_eval = (self.step // self.task.eval_every + 1) * self.task.eval_every
            self._evaluate(**losses)

    def _evaluate(self, **losses) -> None:
        # against the vector env's opponents the curve's evaluations run on the vector env (all games in
        # one batch); the last one, in finish(), plays goengine/Go-v0 itself
        getattr(self.act_fn, "restart", lambda: None)()
        if on_vector_env(self.task.opponent):
            result = evaluate_vector(self.act_fn, self.task, seed=10_000 + self.task.seed)
        else:
            result = evaluate(self.act_fn, self.task, seed=10_000 + self.task.seed)
        row = {"step": self.step, "episodes": self.episodes, "win_rate": result["win_rate"]}
        if self._train_results:
            row["train_win_rate"] = float(np.mean([r > 0 for r in self._train_results]))
            self._train_results = []
        row.update({k: float(v) for k, v in losses.items()})
        self.curve.append(row)
        self.bar.set_postfix(win_rate=f"{result['win_rate']:.2f}")
        if self.log is not None:
            self.log.log(**row)
            save_checkpoint(self.run_dir, self.algo, self.config, self.modules,
                            {"step": self.step, "episodes": self.episodes, "curve": self.curve, "extra": self.extra})
            plot_curves(self.run_dir, f"{self.algo} on {self.task.size}x{self.task.size} vs {self.task.opponent}",
                        self.curve)

    def finish(self) -> dict:
        """The final evaluation: task.eval_games games of goengine/Go-v0 (GoEnv) against the opponent."""
        self.bar.close()
        getattr(self.act_fn, "restart", lambda: None)()
        final = evaluate(self.act_fn, self.task, seed=20_000 + self.task.seed)
        if self.log is not None:
            self.log.log(step=self.step, final_win_rate=final["win_rate"], final_wins=final["wins"],
                         final_losses=final["losses"], final_draws=final["draws"])
            self.log.close()
        return {"algo": self.algo, "step": self.step, "episodes": self.episodes, "curve": self.curve,
                "win_rate": final["win_rate"], "final": final}
