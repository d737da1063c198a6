"""The settings of an AlphaGo Zero run (`ZeroRunConfig`): self-play, training, replay window, net growth and
gating, fixed when the run is created and stored in RUN_DIR/config.json. The loop that reads them is
selfplay/pipelines/zero.py."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from goengine import checks
from nets.go.presets import ZeroConfig, zero_config
from rl.alphago_zero.trainer import TrainerConfig
from selfplay.selfplay_config import SelfPlayConfig

WINDOW_ALPHA, WINDOW_BETA = 0.75, 0.4
"""KataGo's window growth exponent and scale (ZeroRunConfig.window_growth)."""


@dataclass(frozen=True)
class ZeroRunConfig:
    selfplay: SelfPlayConfig
    trainer: TrainerConfig = TrainerConfig()
    games_per_generation: int = 64
    steps_per_generation: int = 100
    window_games: int = 5000
    """Replay window: the most recent games trained on (500,000 in the paper); with `window_growth`, the
    window it starts from."""
    window_growth: bool = False
    """KataGo's growing replay window (Wu 2019, Appendix C): after n games the window holds
    min(n, c (1 + beta ((n / c)^alpha - 1) / alpha)) games, c = window_games, alpha = 0.75, beta = 0.4,
    so it grows as n^0.75 once n passes c: early nets train on few, fresh games, later ones on many."""
    grow: tuple[tuple[int, str], ...] = ()
    """Nets the run grows into, as KataGo and Leela Zero ran from small nets to large ones: (G, "BxF")
    makes generation G's candidate, and every one after, a net of that size (nets/go/presets.py), with
    the run's heads and block style; self-play plays it once it is promoted. A net only deeper than the
    one before starts as that net with identity blocks appended, which computes the same (nets/go/grow.py);
    any other starts from random weights and is first trained `bootstrap_steps` steps on the replay window
    (Leela Zero's bootstrap)."""
    bootstrap_steps: int = 1000
    """Training steps on the replay window that a grown net which is not a deepening starts with."""
    gate_games: int = 40
    """Games of each gating match; 0 promotes every candidate unrated (AlphaZero's always-latest
    self-play, Silver et al. 2018)."""
    gate_visits: int | None = None
    """Root visits per move in gating matches; None: the self-play visits."""
    promote_threshold: float = 0.55
    sgf_per_generation: int = 2
    """Sample games of each generation also saved as SGF in RUN_DIR/sgf."""
    seed: int = 0
    resign_false_positives: float = 0.0
    """AlphaGo Zero's automatic v_resign (selfplay/resign.py): before each generation, the threshold that
    keeps false resignations in recent resign-disabled games at or below this share; 0 keeps
    `selfplay.resign_threshold` fixed. The threshold starts at `selfplay.resign_threshold`."""

    def __post_init__(self) -> None:
        if not isinstance(self.selfplay, SelfPlayConfig) or not isinstance(self.trainer, TrainerConfig):
            raise ValueError("selfplay and trainer must be a SelfPlayConfig and a TrainerConfig")
        for name, low in (("games_per_generation", 1), ("steps_per_generation", 0), ("window_games", 1),
                          ("gate_games", 0), ("sgf_per_generation", 0), ("bootstrap_steps", 0)):
            checks.integer(name, getattr(self, name), low)
        if self.gate_visits is not None:
            checks.integer("gate_visits", self.gate_visits, 1)
        if not isinstance(self.window_growth, bool):
            raise ValueError(f"window_growth must be true or false, not {self.window_growth!r}")
        checks.number("promote_threshold", self.promote_threshold, 0, 1, low_open=True)
        checks.number("resign_false_positives", self.resign_false_positives, 0, 1, high_open=True)
        checks.seed("seed", self.seed)
        self.nets()  # each growth a bigger net

    def nets(self) -> dict[int, ZeroConfig]:
        """The net each growth of `grow` makes, by the generation it starts at (ValueError for a plan that
        does not grow)."""
        out, net, last = {}, self.selfplay.net_config(), 0
        for entry in self.grow:
            if not (isinstance(entry, (tuple, list)) and len(entry) == 2):
                raise ValueError(f"grow takes (generation, net) pairs, not {entry!r}")
            generation, name = entry
            checks.integer("grow generation", generation, last + 1)
            sized = zero_config(name)
            bigger = dataclasses.replace(net, blocks=sized.blocks, filters=sized.filters)
            if bigger.blocks < net.blocks or bigger.filters < net.filters or bigger == net:
                raise ValueError(f"grow {name} at generation {generation} is not bigger than the "
                                 f"{net.blocks + 1}x{net.filters} net before it")
            out[generation], net, last = bigger, bigger, generation
        return out

    @property
    def board_size(self) -> int:
        return self.selfplay.board_size

    def window_at(self, games: int) -> int:
        """Games in the replay window when `games` have been played (window_growth's formula, or fixed)."""
        c = self.window_games
        if not self.window_growth or games <= c:
            return c
        return int(c * (1 + WINDOW_BETA * ((games / c) ** WINDOW_ALPHA - 1) / WINDOW_ALPHA))

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ZeroRunConfig":
        sp = dict(data["selfplay"])
        sp["net"] = ZeroConfig(**sp["net"]) if sp.get("net") is not None else None
        tr = dict(data["trainer"])
        tr["milestones"] = tuple(tr.get("milestones", ()))
        rest = {k: v for k, v in data.items() if k not in ("selfplay", "trainer")}
        rest["grow"] = tuple(tuple(entry) for entry in rest.get("grow", ()))
        return cls(selfplay=SelfPlayConfig(**sp), trainer=TrainerConfig(**tr), **rest)


