"""goengine data convert and the Lee dataset reader (rl/alphago_lee/convert.py, dataset.py): a collection with
every kind of game the filters drop (and archives, a malformed file, an illegal move) converts to exactly
the expected counts; splits are by game; positions, planes and moves read back equal what goengine.sgf and
goengine.features compute from the original files; stored and load-time planes agree."""
from __future__ import annotations

import glob
import json
import os
import shutil
import tarfile
import zipfile

import numpy as np
import pytest

from goengine import coords, sgf
from goengine.cli import main
from goengine.features import extract
from goengine.position import Position
from rl.alphago_lee.dataset import SPLITS, DatasetError, LeeDataset

CORPUS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "fixtures", "corpus", "*.sgf")))


def _moves_sgf(moves: list[str], size: int = 9, extra: str = "") -> bytes:
    body = "".join(f";{'BW'[i % 2]}[{_sgf_point(v, size)}]" for i, v in enumerate(moves))
    return f"(;FF[4]GM[1]SZ[{size}]KM[7]RU[Chinese]RE[B+1]{extra}{body})".encode()


def _sgf_point(vertex: str, size: int) -> str:
    if vertex == "pass":
        return ""
    r, c = coords.gtp_to_row_col(vertex, size)
    return "abcdefghijklmnopqrstuvwxy"[c] + "abcdefghijklmnopqrstuvwxy"[size - 1 - r]


def _random_game(size: int, n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    position, moves = Position(size, 7.0), []
    for _ in range(n):
        legal = [m for m in position.legal_moves() if m != "pass" and not position.is_eye_like(m)]
        move = legal[rng.integers(len(legal))] if legal else "pass"
        position = position.play(move)
        moves.append(move)
    return moves


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """30 corpus games in nested folders, 6 in a .zip, 6 in a .tar.gz, and one game for each drop reason."""
    root = tmp_path_factory.mktemp("sgfs")
    for i, path in enumerate(CORPUS[:30]):
        folder = root / "plain" / f"sub{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / os.path.basename(path))
    with zipfile.ZipFile(root / "more.zip", "w") as z:
        for path in CORPUS[30:36]:
            z.write(path, "inner/" + os.path.basename(path))
        z.writestr("inner/readme.txt", "not a game")
    with tarfile.open(root / "more.tar.gz", "w:gz") as t:
        for path in CORPUS[36:42]:
            t.add(path, arcname="games/" + os.path.basename(path))
    odd = root / "odd"
    odd.mkdir()
    (odd / "malformed.sgf").write_bytes(b"(;FF[4]SZ[9];B[ee];W[")
    (odd / "nineteen.sgf").write_bytes(_moves_sgf(_random_game(19, 30, 1), size=19))
    (odd / "short.sgf").write_bytes(_moves_sgf(_random_game(9, 10, 2)))
    (odd / "handicap.sgf").write_bytes(_moves_sgf(_random_game(9, 30, 3), extra="HA[2]AB[cc][gg]"))
    (odd / "japanese.sgf").write_bytes(_moves_sgf(_random_game(9, 30, 4)).replace(b"RU[Chinese]", b"RU[Japanese]"))
    (odd / "weak.sgf").write_bytes(_moves_sgf(_random_game(9, 30, 5), extra="BR[15k]WR[2d]"))
    illegal = _random_game(9, 30, 6)
    illegal[25] = illegal[3]  # onto a stone (or a point that became a capture: then legal, so check below)
    (odd / "illegal.sgf").write_bytes(_moves_sgf(illegal))
    (root / "zz").mkdir()
    shutil.copy(CORPUS[1], root / "zz" / "duplicate.sgf")  # found after plain/sub1/, so this copy is dropped
    edited = _random_game(9, 30, 7)
    assert "A9" not in edited[:2]
    (odd / "edited.sgf").write_bytes(_moves_sgf(edited).replace(b";W[", b";AB[aa]W[", 1))  # setup at move 2
    with pytest.raises(sgf.SgfError, match="illegal"):
        sgf.replay(sgf.load_game(str(odd / "illegal.sgf")))
    return root


@pytest.fixture(scope="module")
def converted(collection, tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "d"
    rc = main(["data", "convert", str(collection), "--out", str(out), "--rules", "chinese", "--min-rank", "1k",
               "--val", "0.15", "--test", "0.15", "--shard-games", "8", "--no-progress"])
    assert rc == 0
    return out


def test_counts_of_kept_and_dropped_games_and_the_malformed_named(converted, capsys):
    meta = json.loads((converted / "meta.json").read_text())
    kept = sum(meta["splits"][s]["games"] for s in SPLITS)
    assert kept == 42  # 30 plain + 6 zipped + 6 tarred corpus games
    assert meta["dropped"] == {"malformed": 1, "size": 1, "short": 1, "handicap": 1, "rules": 1, "rank": 1,
                               "illegal move": 1, "duplicate": 1, "edited": 1}
    assert len(meta["malformed"]) == 1 and "malformed.sgf" in meta["malformed"][0]
    assert all(meta["splits"][s]["games"] > 0 for s in SPLITS)
    shards = [f for s in SPLITS for f in meta["splits"][s]["shards"]]
    assert len(shards) >= 5 and all((converted / f).exists() for f in shards)  # 8 games a shard


def test_split_by_game_and_replays_equal_the_original_records(converted):
    ds = LeeDataset.open(converted)
    originals = {os.path.basename(p): p for p in CORPUS}
    seen = set()
    for name in SPLITS:
        split = ds.split(name)
        assert split.n_positions == ds.meta["splits"][name]["positions"]
        for g, game in enumerate(split.games()):
            base = os.path.basename(game.name.split(":")[-1])
            assert base not in seen  # each game in one split only
            seen.add(base)
            record = sgf.load_game(originals[base])
            expected = sgf.replay(record)
            replayed = game.replay()
            assert len(replayed) == len(expected)
            assert all(np.array_equal(a.board_array(), b.board_array()) for a, b in zip(replayed, expected))
            rows = split.examples_of(g)
            wanted = [i for i, (c, v) in enumerate(record.moves) if v != "pass"]
            assert split.move_number_P[rows].tolist() == [i + 1 for i in wanted]
            assert [coords.action_to_gtp(int(a), 9) for a in split.action_P[rows]] == \
                [record.moves[i][1] for i in wanted]
            winner = 1 if record.result.startswith("B+") else -1 if record.result.startswith("W+") else 0
            z = split.result_P[rows]
            assert np.array_equal(z, winner * np.where(split.to_play_P[rows] == 1, 1, -1))
    assert len(seen) == 42


def test_planes_equal_the_features_of_the_replayed_position(converted):
    split = LeeDataset.open(converted).split("test")
    rows = np.arange(0, split.n_positions, max(1, split.n_positions // 25))
    planes = split.planes(rows)
    for j, i in enumerate(rows):
        np.testing.assert_array_equal(planes[j], extract(split.position(int(i)), "lee_policy"))
    value = split.planes(rows, value=True)
    assert value.shape[1] == 49
    np.testing.assert_array_equal(value[:, 48, 0, 0], (split.to_play_P[rows] == 1).astype(np.float32))


def test_planes_at_load_time_equal_stored_planes_and_the_split_is_stable(converted, collection, tmp_path):
    out = tmp_path / "lazy"
    rc = main(["data", "convert", str(collection / "plain"), str(collection / "more.zip"), "--out", str(out),
               "--planes", "load", "--val", "0.15", "--test", "0.15", "--no-progress"])
    assert rc == 0
    lazy, stored = LeeDataset.open(out), LeeDataset.open(converted)
    first_shard = out / lazy.meta["splits"]["train"]["shards"][0]
    assert lazy.meta["planes"] == "load" and "planes_packed" not in np.load(first_shard).files
    for name in SPLITS:
        a, b = lazy.split(name), stored.split(name)
        names_a = [os.path.basename(n.split(":")[-1]) for n in a.names]
        names_b = [os.path.basename(n.split(":")[-1]) for n in b.names]
        assert set(names_a) <= set(names_b)  # a game lands in the same split from either conversion
        for g, base in enumerate(names_a):
            h = names_b.index(base)
            np.testing.assert_array_equal(a.planes(a.examples_of(g)), b.planes(b.examples_of(h)))


def test_random_opening_moves_of_data_generate_are_not_examples(tmp_path):
    moves = _random_game(9, 40, 11)
    text = _moves_sgf(moves, extra="C[goengine data generate: ...; game 1, game seed 5; moves 1-4 random]")
    (tmp_path / "g.sgf").write_bytes(text)
    assert main(["data", "convert", str(tmp_path / "g.sgf"), "--out", str(tmp_path / "d"), "--val", "0",
                 "--test", "0", "--no-progress"]) == 0
    split = LeeDataset.open(tmp_path / "d").split("train")
    assert split.move_number_P.min() == 5 and split.n_positions == 36
    assert len(split.game(0).moves_action) == 40  # the random moves are still replayed


@pytest.mark.parametrize("argv, message", [
    (["nowhere/"], "nowhere/: no such file or folder"),
    (["{tmp}", "--val", "0.6", "--test", "0.5"], "--val and --test must add up to less than 1"),
    (["{tmp}", "--min-rank", "strong"], "--min-rank must be a rank such as 5k, 1d or 3p, not 'strong'"),
    (["{tmp}", "--rules", "klingon"], "--rules: unknown rules 'klingon'"),
    (["{tmp}", "--board-size", "40"], "--board-size must be in 2..25, got 40"),
    (["{empty}"], "no .sgf files or archives in it"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "a.sgf").write_bytes(open(CORPUS[0], "rb").read())
    (tmp_path / "empty").mkdir()
    argv = [a.format(tmp=tmp_path / "a.sgf", empty=tmp_path / "empty") for a in argv]
    assert main(["data", "convert", *argv, "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("goengine data:")


def test_a_folder_that_is_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="no meta.json"):
        LeeDataset.open(tmp_path)
    (tmp_path / "meta.json").write_text("{\"format\": \"something else\"}")
    with pytest.raises(DatasetError, match="not a goengine data convert summary"):
        LeeDataset.open(tmp_path)
    with pytest.raises(DatasetError, match="no such folder"):
        LeeDataset.open(tmp_path / "missing")
