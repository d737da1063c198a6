"""Bad input to the `goengine` command: one table of (argv, files to create, expected message) rows.

Every row runs through the real console entry `goengine.cli.main(argv)` in this process, and a few also
through a real `goengine` process, and must end the same way: a non-zero exit, exactly one non-empty line
on stderr that names the problem (no traceback), and every file that was on disk before byte-identical
afterwards, with nothing new beside it. Each row fails before any self-play, training or Ray start.

In argv and in the file names, {d} is the row's own folder, {ckpt} a 5x5 AlphaGo Zero checkpoint and
{run} a copy of a 5x5 run folder (made for the rows that name it).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from goengine.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOENGINE = os.path.join(ROOT, ".venv", "bin", "goengine")

pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # tests/conftest.py

ZERO = ["train", "zero", "--board-size", "5", "--net", "2x16", "--workers", "0", "--no-progress",
        "--generations", "1"]
RESUME = ["train", "zero", "--out", "{run}", "--resume", "--workers", "0", "--no-progress", "--generations", "1"]
SELFPLAY = ["selfplay", "--weights", "{ckpt}", "--games", "2", "--visits", "2"]
MATCH = ["match", "--black", "goengine gtp --engine random", "--white", "goengine gtp --engine random"]


# --- what rows put on disk before they run ---
def run_json(name, **changes):
    """Write `changes` (dotted keys) into the run folder's JSON file `name`."""
    def write(path, shared):
        run = os.path.dirname(path)
        with open(os.path.join(run, name)) as f:
            data = json.load(f)
        for key, value in changes.items():
            *outer, last = key.split(".")
            node = data
            for part in outer:
                node = node[part]
            node[last] = value
        with open(os.path.join(run, name), "w") as f:
            json.dump(data, f)
    return write


def trainer_state(**changes):
    """Replace entries of the trainer state in the run's generation-0 checkpoint."""
    def write(path, shared):
        from nets.go import checkpoint

        model, meta = checkpoint.load(path)
        meta.extra["trainer"].update(changes)
        checkpoint.save(path, model, feature_set="zero", extra=meta.extra)
    return write


def generation_1_records(**changes):
    """Every record of the run's generation 1 on disk (so the resume plays none), with `changes`."""
    def write(path, shared):
        from selfplay.pipelines.zero import ZeroRun
        from rl.records import record_filename
        from selfplay.worker import game_seed

        run = ZeroRun.open(os.path.dirname(path))
        sp = run.config.selfplay
        arrays = dict(version=np.int64(1), board_size=np.int64(5), komi=np.float64(0.5), rules=np.array("chinese"),
                      moves=np.array([3, 25], np.int16), policy_targets=np.full((2, 26), 1 / 26, np.float32),
                      full_search=np.array([True, True]), result=np.float64(1), generation=np.int64(1),
                      seed=np.uint64(0), resign_disabled=np.bool_(False), resigned=np.bool_(False),
                      false_resign=np.int8(-1), weights_version=np.int64(0))
        arrays.update(changes)
        os.makedirs(path, exist_ok=True)
        for i in range(run.config.games_per_generation):
            np.savez(os.path.join(path, record_filename(1, game_seed(sp.seed, 1, i))), **arrays)
    return write


def first_half_of_checkpoint(path, shared):
    with open(shared["ckpt"], "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def in_a_process(argv, files, expected):
    """A row that also runs as a real `goengine` process."""
    return argv, files, expected, True


RUN = "copy of the run"

ROWS = [
    # train zero: flags (the configs check them; the message names the flag)
    in_a_process(ZERO + ["--out", "{d}/r", "--threads", "0"], {}, "--threads must be at least 1, not 0"),
    (ZERO + ["--out", "{d}/r", "--full-search-prob", "1.5"], {}, "--full-search-prob must be in [0, 1], not 1.5"),
    (ZERO + ["--out", "{d}/r", "--full-search-prob", "nan"], {}, "--full-search-prob must be in [0, 1], not nan"),
    (ZERO + ["--out", "{d}/r", "--resign-threshold", "1"], {}, "--resign-threshold must be in [0, 1)"),
    (ZERO + ["--out", "{d}/r", "--promote", "0"], {}, "--promote must be in (0, 1], not 0.0"),
    (ZERO + ["--out", "{d}/r", "--l2=-1e-4"], {}, "--l2 must be at least 0"),
    (ZERO + ["--out", "{d}/r", "--lr", "0"], {}, "--lr must be more than 0"),
    (ZERO + ["--out", "{d}/r", "--lr", "inf"], {}, "--lr must be more than 0, not inf"),
    (ZERO + ["--out", "{d}/r", "--temperature-moves", "-1"], {}, "--temperature-moves must be at least 0"),
    (ZERO + ["--out", "{d}/r", "--komi", "nan"], {}, "--komi must be finite, not nan"),
    (ZERO + ["--out", "{d}/r", "--board-size", "1"], {}, "--board-size must be in [2, 25], not 1"),
    (ZERO + ["--out", "{d}/r", "--board-size", "26"], {}, "--board-size must be in [2, 25], not 26"),
    (ZERO + ["--out", "{d}/r", "--board-size", "0"], {}, "--board-size must be positive"),
    (ZERO + ["--out", "{d}/r", "--seed", "-1"], {}, "--seed must be in [0, "),
    (ZERO + ["--out", "{d}/r", "--workers", "-1"], {}, "--workers must be at least 0"),
    (ZERO + ["--out", "{d}/r", "--visits", "0"], {}, "--visits must be at least 1, not 0"),
    (ZERO + ["--out", "{d}/r", "--visits", "100000000"], {}, "more than it can index"),
    (ZERO + ["--out", "{d}/r", "--steps", "-1"], {}, "--steps must be at least 0"),
    (ZERO + ["--out", "{d}/r", "--window", "0"], {}, "--window must be at least 1"),
    (ZERO + ["--out", "{d}/r", "--batch-size", "0"], {}, "--batch-size must be at least 1"),
    (ZERO + ["--out", "{d}/r", "--net", "7y7"], {}, "unknown preset '7y7'"),
    (ZERO + ["--out", "{d}/r", "--grow", "2:2x16"], {}, "--grow 2x16 at generation 2 is not bigger than the 2x16 net"),
    (ZERO + ["--out", "{d}/r", "--grow", "2:4x8"], {}, "--grow 4x8 at generation 2 is not bigger than the 2x16 net"),
    (ZERO + ["--out", "{d}/r", "--grow", "0:3x16"], {}, "--grow generation must be at least 1, not 0"),
    (ZERO + ["--out", "{d}/r", "--grow", "3:3x16,2:4x16"], {}, "--grow generation must be at least 4, not 2"),
    (ZERO + ["--out", "{d}/r", "--grow", "3x16"], {}, "--grow takes GENERATION:NET pairs such as 8:4x16"),
    (ZERO + ["--out", "{d}/r", "--grow", "2:huge"], {}, "unknown preset 'huge'"),
    (ZERO + ["--out", "{d}/r", "--grow", "2:3x32", "--bootstrap-steps", "-1"], {},
     "--bootstrap-steps must be at least 0, not -1"),
    (ZERO + ["--out", "{d}/r", "--inference", "server", "--inference-max-wait-ms", "inf"], {},
     "--inference-max-wait-ms must be at least 0, not inf"),
    (ZERO + ["--out", "{d}/r", "--generations", "0"], {}, "--generations must be at least 1, not 0"),
    (["train", "zero", "--out", "{d}/r", "--minutes", "nan"], {}, "--minutes must be more than 0, not nan"),
    (["train", "zero", "--out", "{d}/r"], {}, "give --generations G or --minutes M"),
    (ZERO + ["--out", "{d}/r", "--generations", "x"], {}, "invalid int value: 'x'"),
    # train zero: files it reads and the folder it writes
    (ZERO + ["--out", "{d}/r", "--weights", "{d}/missing.pt"], {}, "missing.pt: no such file"),
    (ZERO + ["--out", "{d}/r", "--weights", "{d}"], {}, "a folder, not a file"),
    (ZERO + ["--out", "{d}/r", "--weights", "{d}/empty.pt"], {"empty.pt": b""}, "empty.pt: cannot be read"),
    (ZERO + ["--out", "{d}/r", "--weights", "{d}/torn.pt"], {"torn.pt": first_half_of_checkpoint},
     "torn.pt: cannot be read"),
    (ZERO + ["--out", "{d}/r", "--board-size", "9", "--weights", "{ckpt}"], {}, "board size 5, expected 9"),
    (ZERO + ["--out", "{d}/file"], {"file": b"precious"}, "is a file, not a folder"),
    (ZERO + ["--out", "{d}/file/r"], {"file": b"precious"}, "is a file, not a folder"),
    (ZERO + ["--out", "{run}"], {"run": RUN}, "already holds a run: pass --resume"),
    (ZERO + ["--out", "{run}", "--board-size", "9"], {"run": RUN}, "is a 5x5 run, not 9x9"),
    (RESUME, {}, "holds no run to resume"),
    (RESUME + ["--board-size", "9"], {"run": RUN}, "is a 5x5 run, not 9x9"),
    in_a_process(RESUME, {"run": RUN, "run/state.json": b"[0, 0]"}, "state.json: not a JSON object but a list"),
    (RESUME, {"run": RUN, "run/state.json": b""}, "state.json: unreadable"),
    (RESUME, {"run": RUN, "run/state.json": run_json("state.json", generation="x")},
     "generation must be an integer, not 'x'"),
    (RESUME, {"run": RUN, "run/state.json": run_json("state.json", best=3)}, "best must be in [0, 0], not 3"),
    (RESUME, {"run": RUN, "run/config.json": b'"config"'}, "config.json: not a JSON object but a str"),
    (RESUME, {"run": RUN, "run/config.json": run_json("config.json", **{"config.trainer.lr": -1})},
     "not a run config (lr must be more than 0, not -1)"),
    (RESUME, {"run": RUN, "run/config.json": run_json("config.json", **{"config.selfplay.komi": None})},
     "not a run config (komi must be a number, not None)"),
    in_a_process(RESUME, {"run": RUN, "run/nets/gen00000.pt": trainer_state(torch_rng=[1, 2, 3])},
     "bad trainer state (torch RNG state must be a torch.uint8 tensor, not list)"),
    (RESUME, {"run": RUN, "run/nets/gen00000.pt": trainer_state(torch_rng=torch.zeros(5056, dtype=torch.uint8))},
     "bad trainer state (Invalid mt19937 state)"),
    (RESUME, {"run": RUN, "run/nets/gen00000.pt": trainer_state(optimizer=3)}, "optimizer state must be a dict"),
    (RESUME, {"run": RUN, "run/nets/gen00000.pt": b"damaged"}, "gen00000.pt: cannot be read"),
    (RESUME, {"run": RUN, "run/nets/gen00000.pt": None}, "gen00000.pt: missing"),
    in_a_process(RESUME, {"run": RUN, "run/games": generation_1_records(moves=np.array([1.5, 2.5]))},
     "moves must be a 1-d integer array, not a 1-d float64 array"),
    (RESUME, {"run": RUN, "run/games": generation_1_records(komi=np.array("seven"))},
     "komi must be a number, not a 0-d <U5 array"),
    (RESUME, {"run": RUN, "run/games": generation_1_records(result=np.float64(0.5))}, "result 0.5 is not"),
    (RESUME, {"run": RUN, "run/games": generation_1_records(rules=np.array("nonsense"))}, "unknown rules 'nonsense'"),
    # selfplay
    (SELFPLAY + ["--out", "{d}/o", "--games", "0"], {}, "--games must be at least 1, not 0"),
    (SELFPLAY + ["--out", "{d}/o", "--workers", "0"], {}, "--workers must be at least 1, not 0"),
    in_a_process(SELFPLAY + ["--out", "{d}/o", "--komi", "nan"], {}, "--komi must be finite, not nan"),
    (SELFPLAY + ["--out", "{d}/o", "--seed", "-1"], {}, "--seed must be in [0, "),
    (SELFPLAY + ["--out", "{d}/o", "--generation", "-1"], {}, "--generation must be in [0, "),
    (SELFPLAY + ["--out", "{d}/o", "--sgf-every", "-1"], {}, "--sgf-every must be at least 0"),
    (SELFPLAY + ["--out", "{d}/o", "--board-size", "30"], {}, "--board-size must be in [2, 25], not 30"),
    (SELFPLAY + ["--out", "{d}/o", "--board-size", "9"], {}, "board size 5, expected 9"),
    (SELFPLAY + ["--out", "{d}/o", "--resign-threshold", "nan"], {}, "--resign-threshold must be in [0, 1), not nan"),
    (SELFPLAY + ["--out", "{d}/o", "--inference", "server", "--inference-max-batch", "0"], {},
     "--inference-max-batch must be at least 1, not 0"),
    (SELFPLAY + ["--out", "{d}/o", "--inference", "server", "--inference-max-wait-ms", "nan"], {},
     "--inference-max-wait-ms must be at least 0, not nan"),
    (SELFPLAY + ["--out", "{d}/file"], {"file": b"precious"}, "--out {d}/file is a file, not a folder"),
    (["selfplay", "--weights", "{d}/game.npz", "--games", "1", "--out", "{d}/o"], {"game.npz": b"PK\x03\x04"},
     "game.npz: cannot be read"),
    # gtp
    (["gtp", "--size", "30"], {}, "board size 30 is out of range"),
    (["gtp", "--komi", "inf"], {}, "komi inf is not a finite number"),
    (["gtp", "--rules", "nonsense"], {}, "unknown rules 'nonsense'"),
    (["gtp", "--seconds", "nan"], {}, "--seconds must be more than 0, not nan"),
    (["gtp", "--seed", "-1"], {}, "--seed must be in [0, "),
    (["gtp", "--weights", "{ckpt}", "--threads", "0"], {}, "--threads must be at least 1, not 0"),
    (["gtp", "--weights", "{d}/empty.pt"], {"empty.pt": b""}, "empty.pt: cannot be read"),
    (["gtp", "--lambda", "0.5"], {}, "--lambda is for a net player (--weights or --lee)"),
    (["gtp", "--search", "rave_equiv=2000,foo=1"], {}, "--search: unknown key 'foo'; keys are tree_nodes,"),
    (["gtp", "--root-policy", "{d}/missing.pt"], {}, "missing.pt: no such file"),
    (["gtp", "--root-policy", "{d}/bad.pt"], {"bad.pt": b"not a checkpoint"}, "bad.pt"),
    (["gtp", "--weights", "{ckpt}", "--root-policy", "{ckpt}"], {}, "--root-policy is for the playout engine"),
    (["gtp", "--engine", "random", "--root-policy", "{ckpt}"], {}, "--root-policy would do nothing"),
    (["gtp", "--dynkomi", "-5"], {}, "--dynkomi must be at least 0, not -5"),
    (["gtp", "--weights", "{ckpt}", "--dynkomi", "20"], {}, "--dynkomi is for the playout engine"),
    (["gtp", "--playout-policy", "{d}/missing.pt"], {}, "missing.pt: no such file"),
    (["gtp", "--playout-policy", "{ckpt}"], {}, "feature set 'zero', expected 'rollout_patterns'"),
    (["gtp", "--light", "--playout-policy", "{ckpt}"], {}, "--light and --playout-policy both choose the playouts"),
    (["gtp", "--search", "c_puct=-1", "--weights", "{ckpt}"], {}, "--search c_puct must be at least 0, not -1.0"),
    (["gtp", "--weights", "{ckpt}", "--lambda", "0.5"], {}, "--lambda is for --lee"),
    (["gtp", "--lee-search", "rave"], {}, "--lee-search is for a net player (--weights or --lee)"),
    (["gtp", "--weights", "{ckpt}", "--lee-search", "rave"], {}, "--lee-search is for --lee"),
    # play
    (["play", "--engine", "random", "--sgf", "{d}/game.sgf"], {"game.sgf": b"(;GM[1]SZ[9])"},
     "--sgf {d}/game.sgf already exists"),
    (["play", "--engine", "random", "--sgf", "{d}/file/game.sgf"], {"file": b"precious"}, "is a file, not a folder"),
    (["play", "--seconds", "inf"], {}, "--seconds must be more than 0, not inf"),
    (["play", "--handicap", "1"], {}, "invalid handicap 1"),
    (["play", "--size", "9", "--weights", "{ckpt}"], {}, "plays 5x5, not 9x9"),
    # match
    in_a_process(MATCH + ["--grace", "nan"], {}, "--grace must be at least 0, not nan"),
    (MATCH + ["--seconds-per-move", "0"], {}, "--seconds-per-move must be more than 0"),
    (MATCH + ["--max-moves", "-1"], {}, "--max-moves must be at least 0, not -1"),
    (MATCH + ["--komi", "nan"], {}, "komi nan is not a finite number"),
    (MATCH + ["--sprt", "5"], {}, "--sprt takes two Elo values ELO0,ELO1 such as 0,10; got '5'"),
    (MATCH + ["--sprt", "10,0"], {}, "--sprt ELO1 must be larger than elo0 (10), not 0"),
    (MATCH + ["--sprt", "0,10", "--sprt-alpha", "0.6"], {}, "--sprt-alpha must be in (0, 0.5), not 0.6"),
    (MATCH + ["--out", "{d}/file"], {"file": b"precious"}, "is a file, not a folder"),
    (MATCH + ["--out", "{d}/sgf"], {"sgf/game-001.sgf": b"(;GM[1]SZ[9])"}, "already holds game-001.sgf"),
    (["match", "--black", "'unclosed", "--white", "x"], {}, "--black \"'unclosed\": No closing quotation"),
    (["match", "--black", "{d}/no-engine", "--white", "x"], {}, "cannot start {d}/no-engine"),
    (["match", "--black", "gnugo", "--white", "katago:visits=0"], {}, "--white 'katago:visits=0': visits must be at least 1"),
    in_a_process(["match", "--black", "katago:visits=1,home={d}/kg", "--white", "gnugo"], {},
                 "--black katago:visits=1,home={d}/kg: KataGo is not installed in {d}/kg"),
    # bench, and the command itself
    (["bench", "selfplay", "--weights", "{d}/missing.pt"], {}, "missing.pt: no such file"),
    (["bench", "board", "--weights", "{ckpt}"], {}, "--weights is for `goengine bench selfplay`"),
    (["bench", "board", "--seeds", "3"], {}, "--seeds is for `goengine bench train` only, not board"),
    (["bench", "board", "--first-seed", "0"], {}, "--first-seed is for `goengine bench train` only, not board"),
    (["bench", "mcts", "--first-seed", "2", "--only", "sync"], {}, "--first-seed, --only are for `goengine bench train`"),
    (["bench", "train", "--seeds", "0"], {}, "--seeds must be at least 1, not 0"),
    (["bench", "train", "--first-seed", "-1"], {}, "--first-seed must be 0 or more, not -1"),
    (["bench", "train", "--only", "async"], {}, "invalid choice: 'async'"),
    (["nope"], {}, "invalid choice: 'nope'"),
]

IN_A_PROCESS = [i for i, row in enumerate(ROWS) if row[3:] == (True,)]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A 5x5 checkpoint and a 5x5 run folder that rows copy; neither is ever changed."""
    import nets
    from nets.go.checkpoint import save
    from nets.go.presets import zero_config
    from selfplay.pipelines.zero import ZeroRun
    from selfplay.pipelines.zero_config import ZeroRunConfig
    from rl.alphago_zero.trainer import TrainerConfig
    from selfplay.selfplay_config import SelfPlayConfig

    root = tmp_path_factory.mktemp("shared")
    torch.manual_seed(0)
    ckpt = str(root / "best.pt")
    save(ckpt, nets.build("zero_resnet", preset="2x16", board_size=5), feature_set="zero", extra={"generation": 3})
    sp = SelfPlayConfig(board_size=5, komi=0.5, net=zero_config("2x16", board_size=5), visits=4, parallel_games=2,
                        seed=2)
    run = str(root / "run")
    ZeroRun.create(run, ZeroRunConfig(selfplay=sp, trainer=TrainerConfig(batch_size=8), games_per_generation=2,
                                      steps_per_generation=1, gate_games=0, seed=2))
    return {"ckpt": ckpt, "run": run, "root": str(root)}


def _fill(text: str, d: str, shared: dict) -> str:
    return text.replace("{d}", d).replace("{ckpt}", shared["ckpt"]).replace("{run}", os.path.join(d, "run"))


def _make(files: dict, d: str, shared: dict) -> None:
    for name, content in files.items():
        path = os.path.join(d, _fill(name, d, shared))
        if content == RUN:
            shutil.copytree(shared["run"], path)
        elif content is None:
            os.remove(path)
        elif callable(content):
            content(path, shared)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)


def _snapshot(*roots: str) -> dict[str, str]:
    """Every file under the roots and its content's hash (folders as such)."""
    out = {}
    for root in roots:
        for folder, dirs, names in os.walk(root):
            for name in dirs:
                out[os.path.join(folder, name)] = "folder"
            for name in names:
                with open(os.path.join(folder, name), "rb") as f:
                    out[os.path.join(folder, name)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _row(i: int, tmp_path, shared: dict):
    argv, files, expected = ROWS[i][:3]
    d = str(tmp_path)
    _make(files, d, shared)
    return [_fill(a, d, shared) for a in argv], _fill(expected, d, shared), d


def _check(code, err: str, expected: str, before: dict, after: dict) -> None:
    lines = err.splitlines()
    assert code != 0
    assert len(lines) == 1 and lines[0].strip(), err
    assert "Traceback" not in err
    assert expected in lines[0], (expected, lines[0])
    assert after == before, "files changed, appeared or went"


def _id(i: int) -> str:
    return f"{i:02d} {ROWS[i][0][0]}: {ROWS[i][2][:50]}"


@pytest.mark.parametrize("i", range(len(ROWS)), ids=_id)
def test_bad_input_is_one_line_and_loses_nothing(i, tmp_path, shared, capsys, monkeypatch):
    argv, expected, d = _row(i, tmp_path, shared)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # gtp and play must not wait for a user
    before = _snapshot(d, shared["root"])
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's errors
        code = e.code
    err = capsys.readouterr().err
    _check(code, err, expected, before, _snapshot(d, shared["root"]))


@pytest.mark.parametrize("i", IN_A_PROCESS, ids=_id)
def test_a_real_process_prints_no_traceback(i, tmp_path, shared):
    argv, expected, d = _row(i, tmp_path, shared)
    command = [GOENGINE] if os.path.exists(GOENGINE) else [sys.executable, "-m", "goengine.cli"]
    before = _snapshot(d, shared["root"])
    proc = subprocess.run(command + argv, capture_output=True, text=True, timeout=120, cwd=d, stdin=subprocess.DEVNULL)
    _check(proc.returncode, proc.stderr, expected, before, _snapshot(d, shared["root"]))
