"""Game records: round trip, atomic writes, ordering, and one clear RecordError for every bad file."""
import os
import zipfile

import numpy as np
import pytest

from goengine import coords
from goengine.position import Position
from rl.records import RECORD_VERSION, GameRecord, RecordError, iter_records, read_record, record_paths, write_record


def make_record(seed=7, generation=3, size=5, moves=("C3", "B2", "pass", "pass"), full=None, false_resign=None):
    t = len(moves)
    actions = np.array([coords.gtp_to_action(m, size) for m in moves], dtype=np.int16)
    rng = np.random.default_rng(seed)
    pi = rng.random((t, size * size + 1)).astype(np.float32)
    full = np.ones(t, bool) if full is None else np.asarray(full, bool)
    pi[~full] = 0
    pi[full] /= pi[full].sum(axis=1, keepdims=True)
    return GameRecord(board_size=size, komi=0.5, rules="chinese", moves=actions, policy_targets=pi,
                      full_search=full, result=1.0, generation=generation, seed=seed, resign_disabled=True,
                      resigned=False, false_resign=false_resign, weights_version=generation - 1)


def assert_same(a: GameRecord, b: GameRecord):
    for name in ("board_size", "komi", "rules", "result", "generation", "seed", "resign_disabled", "resigned",
                 "false_resign", "weights_version"):
        assert getattr(a, name) == getattr(b, name), name
    np.testing.assert_array_equal(a.moves, b.moves)
    np.testing.assert_array_equal(a.policy_targets, b.policy_targets)
    np.testing.assert_array_equal(a.full_search, b.full_search)


@pytest.mark.parametrize("false_resign", [None, True, False])
def test_round_trip(tmp_path, false_resign):
    rec = make_record(full=[True, False, True, True], false_resign=false_resign, seed=2**64 - 5)
    path = write_record(tmp_path, rec)
    assert os.path.basename(path) == rec.filename()
    back = read_record(path)
    assert_same(rec, back)
    assert back.moves.dtype == np.int16 and back.policy_targets.dtype == np.float32
    # the moves replay on a real board: the record is a game, not just arrays
    pos = Position(size=back.board_size, komi=back.komi, rules=back.rules)
    for a in back.moves:
        pos = pos.play(coords.action_to_gtp(int(a), back.board_size))
    assert pos.is_over
    # only the final file remains: no temporary left behind by the atomic write
    assert os.listdir(tmp_path) == [rec.filename()]


def test_order_and_generation_filter(tmp_path):
    for gen, seed in [(2, 9), (1, 5), (10, 1), (1, 3)]:
        write_record(tmp_path, make_record(seed=seed, generation=gen))
    (tmp_path / ".tmp-abc.npz").write_bytes(b"partial")  # an interrupted write is not a record
    got = [(r.generation, r.seed) for r in iter_records(tmp_path)]
    assert got == [(1, 3), (1, 5), (2, 9), (10, 1)]
    assert len(record_paths(tmp_path, max_generation=2)) == 3
    assert record_paths(tmp_path / "missing") == []


def test_truncated_and_garbage_files(tmp_path):
    path = write_record(tmp_path, make_record())
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(RecordError, match="corrupt"):
        read_record(path)
    junk = tmp_path / "gen00001-0000000000000001.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(RecordError, match=str(junk)):
        read_record(junk)
    with pytest.raises(RecordError, match="no such file"):
        read_record(tmp_path / "nope.npz")


def test_other_version_and_inconsistent_arrays(tmp_path):
    path = write_record(tmp_path, make_record())
    with np.load(path) as d:
        arrays = dict(d)
    arrays["version"] = np.int64(RECORD_VERSION + 1)
    np.savez(path, **arrays)
    with pytest.raises(RecordError, match="format version"):
        read_record(path)
    arrays["version"] = np.int64(RECORD_VERSION)
    arrays["policy_targets"] = arrays["policy_targets"][:, :10]
    np.savez(path, **arrays)
    with pytest.raises(RecordError, match="shape"):
        read_record(path)
    arrays.pop("policy_targets")
    np.savez(path, **arrays)
    with pytest.raises(RecordError, match="missing"):
        read_record(path)
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as z:
        z.writestr("other.npy", b"")
    with pytest.raises(RecordError):
        read_record(tmp_path / "x.npz")


def test_write_refuses_bad_records(tmp_path):
    rec = make_record()
    rec.policy_targets[0] *= 2  # not a distribution
    with pytest.raises(RecordError, match="distributions"):
        write_record(tmp_path, rec)
    rec = make_record()
    rec.moves[0] = 26  # 5x5 has actions 0..25
    with pytest.raises(RecordError, match="action indices"):
        write_record(tmp_path, rec)
    assert os.listdir(tmp_path) == []
