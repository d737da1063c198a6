"""The AlphaGo Zero generation loop: self-play -> train -> gate, with its whole state in one run folder.

AlphaGo Zero (Silver et al. 2017, Nature 550, Methods "Self-play training pipeline") runs three
processes: self-play with the best net alpha_theta* writes games; optimisation trains theta on positions
from the most recent games; the evaluator plays each checkpoint against alpha_theta* and makes it the
new best when it wins by a margin of 55%. Here they take turns, one generation g = 1, 2, ... at a time:

    1. self-play   games_per_generation games of generation g with the best net (chunks on the executor:
                   selfplay/orchestrator.py), each record written to RUN_DIR/games the moment it arrives
    2. train       steps_per_generation steps, continuing the trainer of generation g-1 (not the best
                   net: training never restarts), on the replay window -> RUN_DIR/nets/genGGGGG.pt;
                   at a generation of `grow`, a bigger net takes over from that trainer (ZeroRun._grow)
    3. gate        the candidate against the best net (selfplay/arena.py), rated in RUN_DIR/elo.json
                   (rl/elo.py); promoted to RUN_DIR/best.pt at >= promote_threshold
    4. log         a row of RUN_DIR/metrics.csv and TensorBoard, the PNG plot, and RUN_DIR/state.json

Resuming (also after kill -9) is exact because every step is atomic and either replayable or skipped:
state.json names the last finished generation; games already on disk are kept and only missing chunks
are replayed (a chunk's games depend only on its seed and weights); a candidate checkpoint already
written is not trained again; a gating result already in elo.json is reused; a metrics row already in
metrics.csv is not written twice. Trainer checkpoints carry the optimizer and the RNG states. Ctrl-C or
SIGTERM (goengine/cli.py turns it into an exception) in the middle of the training steps saves the
trainer as it stands between two steps (nets/genG.partial.pt), and the resume takes up from that step.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np
import torch

from goengine import checks
from goengine.atomic import atomic_open
from nets.go import checkpoint
from nets.go.grow import deepen, deepen_refusal
from nets.go.zero_resnet import ZeroResNet
from rl.alphago_zero.replay import ReplayWindow
from rl.alphago_zero.trainer import FEATURE_SET, Trainer
from rl.records import GameRecord, read_record, record_filename, record_paths, save_sgf, write_record
from selfplay.orchestrator import chunks_of
from selfplay.training.api import LocalBackend, ReplaySource, TrainingInterrupted
from selfplay.training.zero import zero_spec
from selfplay.pipelines.zero_config import ZeroRunConfig
from selfplay.worker import WorkerStats, game_seed

STATE_VERSION = 1


class RunDirError(ValueError):
    """A run folder that cannot be used as asked: one clear line."""


def _write_json(path: str, data: dict) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise RunDirError(f"{path}: unreadable ({e})") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: not a JSON object but a {type(data).__name__}")
    return data


def initial_model(config: ZeroRunConfig, init_weights: str | None = None) -> ZeroResNet:
    """Generation 0's net: seeded random weights, or those of `init_weights` (CheckpointError if that file
    is unreadable, for another board size, or for another architecture)."""
    torch.manual_seed(config.seed)
    net = config.selfplay.net_config()
    model = ZeroResNet(net)
    if init_weights is not None:
        source, _ = checkpoint.load(init_weights, board_size=config.board_size, feature_set=FEATURE_SET)
        try:
            model.load_state_dict(source.state_dict())
        except RuntimeError:
            raise checkpoint.CheckpointError(
                f"checkpoint {init_weights}: its weights do not fit the {net.blocks}-block, {net.filters}-filter "
                f"net of this run") from None
    return model


class ZeroRun:
    """One run folder. `create` or `open` it, then `run(executor, ...)`."""

    def __init__(self, run_dir: str, config: ZeroRunConfig, state: dict):
        self.run_dir = run_dir
        self.config = config
        self.state = state
        self.games_dir = os.path.join(run_dir, "games")
        self.window = ReplayWindow(config.board_size, config.window_games)
        self.backend = LocalBackend()
        """Where the training steps run (selfplay/training): in this process unless the caller sets a
        SyncBackend or AsyncBackend; checkpoints and resumes are the same either way."""

    # --- the folder ---
    def net_path(self, generation: int) -> str:
        return os.path.join(self.run_dir, "nets", f"gen{generation:05d}.pt")

    def partial_path(self, generation: int) -> str:
        """The trainer of a generation whose training steps were interrupted, with the steps done."""
        return os.path.join(self.run_dir, "nets", f"gen{generation:05d}.partial.pt")

    @property
    def best_path(self) -> str:
        return os.path.join(self.run_dir, "best.pt")

    @classmethod
    def create(cls, run_dir: str, config: ZeroRunConfig, init_weights: str | None = None) -> "ZeroRun":
        """A new run: config.json, generation 0's net (random, or init_weights), best.pt, state.json."""
        if os.path.exists(os.path.join(run_dir, "state.json")):
            raise RunDirError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another --out")
        model = initial_model(config, init_weights)  # checked before anything is written
        os.makedirs(os.path.join(run_dir, "nets"), exist_ok=True)
        _write_json(os.path.join(run_dir, "config.json"), {"version": STATE_VERSION, "config": config.to_json()})
        run = cls(run_dir, config, {"version": STATE_VERSION, "generation": 0, "best": 0})
        Trainer(model, config.trainer, seed=config.seed).save(run.net_path(0), extra={"generation": 0})
        checkpoint.save(run.best_path, model, feature_set=FEATURE_SET, extra={"generation": 0})
        from rl.elo import RatingTable

        RatingTable(run_dir)  # generation 0 is the anchor
        _write_json(os.path.join(run_dir, "state.json"), run.state)
        return run

    @classmethod
    def open(cls, run_dir: str, board_size: int | None = None) -> "ZeroRun":
        """An existing run, to resume; RunDirError if it is none, or is for another board size."""
        state_path = os.path.join(run_dir, "state.json")
        if not os.path.exists(state_path):
            raise RunDirError(f"{run_dir} holds no run to resume (no state.json)")
        data = _read_json(os.path.join(run_dir, "config.json"))
        try:
            config = ZeroRunConfig.from_json(data["config"])
        except (KeyError, TypeError, ValueError) as e:
            raise RunDirError(f"{run_dir}/config.json: not a run config ({e})") from None
        if board_size is not None and board_size != config.board_size:
            raise RunDirError(f"{run_dir} is a {config.board_size}x{config.board_size} run, "
                              f"not {board_size}x{board_size}")
        state = _read_json(state_path)
        if state.get("version") != STATE_VERSION:
            raise RunDirError(f"{state_path}: state version {state.get('version')!r}, this code reads {STATE_VERSION}")
        try:
            generation = checks.integer("generation", state.get("generation"), 0)
            checks.integer("best", state.get("best"), 0, generation)
        except ValueError as e:
            raise RunDirError(f"{state_path}: {e}") from None
        run = cls(run_dir, config, state)
        for path in sorted({run.net_path(generation), run.net_path(state["best"])}):
            if not os.path.isfile(path):
                raise RunDirError(f"{path}: missing, though {state_path} counts on it")
        return run

    def set_resign_false_positives(self, share: float) -> None:
        """Turn AlphaGo Zero's automatic v_resign on (share > 0) or off for the generations to come."""
        self._change_config(dataclasses.replace(self.config, resign_false_positives=share))

    def set_lr(self, lr: float) -> None:
        """The learning rate of the training steps to come (a generation interrupted mid-way finishes with
        it too). The checkpoints' own trainer configs keep the lr they were trained with."""
        self._change_config(dataclasses.replace(self.config, trainer=dataclasses.replace(self.config.trainer, lr=lr)))

    def _change_config(self, config: ZeroRunConfig) -> None:
        """A setting changed on --resume: config.json rewritten. The caller builds `config` first, so a
        value out of range is a ValueError there and nothing changes."""
        _write_json(os.path.join(self.run_dir, "config.json"), {"version": STATE_VERSION, "config": config.to_json()})
        self.config = config

    # --- one generation ---
    def _missing_chunks(self, generation: int) -> list[tuple[int, int]]:
        sp = self.config.selfplay
        have = {os.path.basename(p) for p in record_paths(self.games_dir, generation)}
        out = []
        for first, count in chunks_of(self.config.games_per_generation, sp.parallel_games):
            names = {record_filename(generation, game_seed(sp.seed, generation, i))
                     for i in range(first, first + count)}
            if not names <= have:
                out.append((first, count))
        return out

    def resign_threshold(self) -> float:
        """The v_resign this generation plays with: fixed, or the last one calibrated (state.json)."""
        if self.config.resign_false_positives <= 0:
            return self.config.selfplay.resign_threshold
        return float(self.state.get("resign_threshold", self.config.selfplay.resign_threshold))

    def _calibrate_resign(self, records: list[GameRecord]) -> None:
        """Pool the winners' lowest values of this generation's resign-disabled games (in file order, so a
        resumed generation pools the same) and set the next generation's threshold from the pool."""
        from selfplay.resign import POOL_GAMES, calibrate

        pool = list(self.state.get("resign_values", []))
        pool += [r.winner_min_value for r in records if r.resign_disabled and np.isfinite(r.winner_min_value)]
        self.state["resign_values"] = [round(float(v), 6) for v in pool[-POOL_GAMES:]]
        threshold = calibrate(self.state["resign_values"], self.config.resign_false_positives)
        if threshold is not None:
            self.state["resign_threshold"] = threshold

    def selfplay(self, generation: int, executor, progress) -> dict:
        best = self.state["best"]
        model, _ = checkpoint.load(self.net_path(best), board_size=self.config.board_size)
        executor.publish(model.state_dict(), best, net=model.config)  # a grown net: the workers rebuild
        chunks = self._missing_chunks(generation)
        stats = WorkerStats()
        start = time.perf_counter()
        bar = progress(total=sum(c for _, c in chunks), desc=f"gen {generation} self-play", unit="game")
        threshold = self.resign_threshold()
        auto = {"resign_threshold": threshold} if self.config.resign_false_positives > 0 else {}
        for chunk_records, chunk_stats in executor.play(generation, chunks, **auto):
            for record in chunk_records:
                write_record(self.games_dir, record)
            for f in dataclasses.fields(WorkerStats):
                setattr(stats, f.name, getattr(stats, f.name) + getattr(chunk_stats, f.name))
            bar.update(len(chunk_records))
            bar.set_postfix(pos_per_s=f"{stats.moves / max(time.perf_counter() - start, 1e-9):.0f}")
        bar.close()
        seconds = time.perf_counter() - start
        # the generation's games as on disk: also those played before an interruption, in file order
        prefix = f"gen{generation:05d}-"
        records = [read_record(p) for p in record_paths(self.games_dir, generation)
                   if os.path.basename(p).startswith(prefix)]
        os.makedirs(os.path.join(self.run_dir, "sgf"), exist_ok=True)
        for record in records[: self.config.sgf_per_generation]:
            save_sgf(record, os.path.join(self.run_dir, "sgf", record.filename().replace(".npz", ".sgf")))
        metrics = _selfplay_metrics(records, stats, seconds)
        metrics["resign_threshold"] = threshold
        if self.config.resign_false_positives > 0:
            from selfplay.resign import false_share

            metrics["winner_below_threshold"] = false_share(  # the bound at the threshold these games used
                [r.winner_min_value for r in records if r.resign_disabled], threshold)
            self._calibrate_resign(records)  # the next generation's; state.json is written after the step
        return metrics

    def train(self, generation: int, progress) -> dict:
        path = self.net_path(generation)
        if os.path.exists(path):  # trained before an interruption: the checkpoint is the result
            _, meta = checkpoint.load(path, board_size=self.config.board_size)
            return dict(meta.extra.get("train_metrics", {}))
        partial = self.partial_path(generation)
        if os.path.exists(partial):  # stopped by Ctrl-C or SIGTERM in the middle of these steps
            trainer, extra = Trainer.load(partial, board_size=self.config.board_size)
            done, sums = int(extra["partial"]["steps"]), dict(extra["partial"]["sums"])
            total = int(extra["partial"].get("total", self.config.steps_per_generation))
        else:
            trainer, _ = Trainer.load(self.net_path(generation - 1), board_size=self.config.board_size)
            done, sums = 0, {}
            trainer, bootstrap = self._grow(trainer, generation)
            total = self.config.steps_per_generation + bootstrap
        # the run's lr, which --resume may have changed since the checkpoint was written
        trainer.config = dataclasses.replace(trainer.config, lr=self.config.trainer.lr)
        self.window.window_games = self.config.window_at(len(record_paths(self.games_dir, generation)))
        positions = self.window.refresh(self.games_dir, generation)
        bar = progress(total=total, initial=done, desc=f"gen {generation} train",
                       unit="step")

        def on_step(m: dict) -> None:
            bar.update(1)
            bar.set_postfix(loss=f"{m.get('loss', float('nan')):.3f}")

        source = ReplaySource(self.games_dir, self.config.board_size, self.window.window_games, generation,
                              local=self.window)
        try:
            self.backend.fit(trainer, zero_spec(trainer), source, total - done,
                             on_step=on_step, sums=sums)
        except TrainingInterrupted as e:
            # the steps so far, exactly: model, optimizer and RNG states, between two steps
            done += e.steps_done
            trainer.save(partial, extra={"generation": generation,
                                         "partial": {"steps": done, "sums": sums, "total": total}})
            raise
        finally:
            bar.close()
        metrics = {k: v / max(total, 1) for k, v in sums.items()}
        net = trainer.model.config
        metrics.update(step=trainer.step, window_games=len(self.window.games), window_positions=positions,
                       blocks=net.blocks + 1, filters=net.filters)
        trainer.save(path, extra={"generation": generation, "train_metrics": metrics,
                                  "replay": {"games": len(self.window.games), "positions": positions,
                                             "last": os.path.basename(next(reversed(self.window.games), ""))}})
        if os.path.exists(partial):
            os.remove(partial)
        return metrics

    def _grow(self, trainer: Trainer, generation: int) -> tuple[Trainer, int]:
        """At a generation where `grow` starts a bigger net: a trainer of that net (the step count, and so
        the learning-rate schedule, carried on; a fresh optimizer) and the bootstrap steps it needs first.
        Elsewhere the trainer itself and 0."""
        net = self.config.nets().get(generation)
        if net is None:
            return trainer, 0
        seed = game_seed(self.config.seed, generation, 2**40 + 2) % 2**31
        if deepen_refusal(trainer.model.config, net) is None:
            model, bootstrap = deepen(trainer.model, net, seed=seed), 0
        else:
            torch.manual_seed(seed)
            model, bootstrap = ZeroResNet(net), self.config.bootstrap_steps
        grown = Trainer(model, trainer.config, seed=seed)
        grown.step = trainer.step
        return grown, bootstrap

    def gate(self, generation: int) -> dict:
        from rl.elo import RatingTable
        from selfplay.arena import play_match

        best = self.state["best"]
        if self.config.gate_games == 0:
            model, _ = checkpoint.load(self.net_path(generation), board_size=self.config.board_size)
            checkpoint.save(self.best_path, model, feature_set=FEATURE_SET, extra={"generation": generation})
            return {"promoted": 1}
        table = RatingTable(self.run_dir)
        if generation not in table:
            candidate, _ = checkpoint.load(self.net_path(generation), board_size=self.config.board_size)
            incumbent, _ = checkpoint.load(self.net_path(best), board_size=self.config.board_size)
            sp = self.config.selfplay
            result = play_match(candidate, incumbent, sp.board_size, sp.komi, games=self.config.gate_games,
                                visits=self.config.gate_visits or sp.visits,
                                seed=game_seed(self.config.seed, generation, 2**40) % 2**31, rules=sp.rules)
            promoted = result.score >= self.config.promote_threshold
            table.add_match(generation, best, result.wins_a, result.losses_a, result.draws, promoted)
        rating = table[generation]
        if rating.promoted:
            model, _ = checkpoint.load(self.net_path(generation), board_size=self.config.board_size)
            checkpoint.save(self.best_path, model, feature_set=FEATURE_SET, extra={"generation": generation})
        score = (rating.wins + 0.5 * rating.draws) / max(rating.games, 1)
        return {"gate_score": score, "gate_games": rating.games, "promoted": int(rating.promoted),
                "elo": rating.elo, "elo_low": rating.low, "elo_high": rating.high}

    def log(self, generation: int, metrics: dict) -> None:
        from rl.metrics_log import MetricsLog, plot, read_metrics

        if not any(int(row.get("generation", -1)) == generation for row in read_metrics(self.run_dir)):
            with MetricsLog(self.run_dir) as log:
                log.log(generation=generation, **metrics)
        plot(self.run_dir)

    def step(self, executor, progress) -> dict:
        """Play, train, gate and log one generation; returns its metrics."""
        g = self.state["generation"] + 1
        metrics = self.selfplay(g, executor, progress)
        metrics.update(self.train(g, progress))
        metrics.update(self.gate(g))
        if metrics["promoted"]:
            self.state["best"] = g
        metrics["best"] = self.state["best"]
        self.log(g, metrics)
        self.state["generation"] = g
        _write_json(os.path.join(self.run_dir, "state.json"), self.state)
        return metrics

    def run(self, executor, generations: int | None = None, minutes: float | None = None,
            progress=None, on_generation=None) -> dict | None:
        """Generations until the run has `generations` of them or `minutes` have passed (checked between
        generations). Returns the last generation's metrics (None if none ran)."""
        progress = progress or _no_progress
        start = time.perf_counter()
        last = None
        while generations is None or self.state["generation"] < generations:
            if minutes is not None and time.perf_counter() - start >= 60 * minutes:
                break
            last = self.step(executor, progress)
            if on_generation is not None:
                on_generation(last)
        return last

    def summary(self) -> str:
        """The closing line: how strong the best net is, and how to play it."""
        from rl.elo import RatingTable

        table = RatingTable(self.run_dir)
        best = self.state["best"]
        games = len(record_paths(self.games_dir))
        if best == 0:
            strength = "the initial net (no candidate promoted yet)"
        elif best not in table:
            strength = f"generation {best} (unrated: gating is off)"
        else:
            r = table[best]
            strength = f"generation {best}, Elo {r.elo:+.0f} [{r.low:+.0f}, {r.high:+.0f}] over the initial net"
        return (f"{self.state['generation']} generations, {games} self-play games; best net: {strength}; "
                f"play it: goengine gtp --weights {self.best_path} --playouts {self.config.selfplay.visits}")


def _selfplay_metrics(records: list[GameRecord], stats: WorkerStats, seconds: float) -> dict:
    n = len(records)
    disabled = [r for r in records if r.resign_disabled]
    would = [r for r in disabled if r.false_resign is not None]
    played = stats.games > 0 and seconds > 0  # else every game was on disk from before a restart: no rates
    return {
        "games": n, "positions": sum(r.num_moves for r in records), "selfplay_seconds": seconds,
        "selfplay_core_seconds": stats.seconds,  # summed over workers: the x-axis of `goengine ladder follow`
        "games_per_hour": 3600 * stats.games / seconds if played else float("nan"),
        "positions_per_s": stats.moves / seconds if played else float("nan"),
        "net_share": stats.net_seconds / stats.seconds if played and stats.seconds > 0 else float("nan"),
        "mean_game_length": float(np.mean([r.num_moves for r in records])) if n else 0.0,
        "black_wins": float(np.mean([r.result > 0 for r in records])) if n else 0.0,
        "resigned": float(np.mean([r.resigned for r in records])) if n else 0.0,
        "false_resign_rate": float(np.mean([r.false_resign for r in would])) if would else 0.0,
    }


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, **kw):
        pass

    def close(self):
        pass


def _no_progress(**kwargs):
    return _NoBar()


