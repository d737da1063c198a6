"""Golden GTP transcripts, played in-process and through `goengine gtp` as a subprocess; the move and
handicap transcripts also go through GNU Go, which must accept and reject the same commands."""
from __future__ import annotations

import pytest

from tests.gnugo import GnuGo, gnugo_available, skip_reason
from tests.gtp import transcript

NAMES = transcript.fixture_names()


def test_the_fixtures_are_there():
    assert {"basics.txt", "moves.txt", "handicap.txt", "time.txt", "scoring.txt", "analysis.txt"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_transcript_in_process(name):
    commands, expected = transcript.read(name)
    output = transcript.serve_in_process(commands)
    want = [e for e in expected if e]
    got = transcript.split_replies(output)
    for i, (w, g) in enumerate(zip(want, got)):
        assert g == w, f"{name}: reply {i} differs"
    assert len(got) == len(want)
    assert output == "".join(expected)


def test_transcripts_as_a_subprocess():
    """Every transcript, one after the other, through one `goengine gtp` process (each transcript sets
    the board size and komi it needs, and its genmoves are forced passes, so the order does not matter)."""
    commands = [c for name in NAMES for c in transcript.read(name)[0]]
    expected = "".join(e for name in NAMES for e in transcript.read(name)[1])
    proc = transcript.start_subprocess()
    out, err = proc.communicate(transcript.lines_as_bytes(commands), timeout=120)
    assert proc.returncode == 0, err.decode()
    assert err.decode() == ""  # no command failed with a traceback
    assert out.decode("utf-8") == expected


@pytest.mark.gnugo
@pytest.mark.skipif(not gnugo_available(), reason=skip_reason())
@pytest.mark.parametrize("name", ["moves.txt", "handicap.txt"])
def test_gnugo_accepts_and_rejects_the_same_commands(name):
    """GNU Go (the reference implementation of GTP 2) on the same command lines: success or failure
    must match for every board command (showboard's layout and GNU Go's own free placement differ)."""
    commands, expected = transcript.read(name)
    compared = ("boardsize", "clear_board", "komi", "play", "undo", "fixed_handicap", "set_free_handicap")
    pairs = [(c, e) for c, e in zip(commands, expected) if c.split() and c.split()[0] in compared]
    with GnuGo() as gg:
        replies = gg.send_many([c for c, _ in pairs], check=False)
    for (command, want), reply in zip(pairs, replies):
        gnugo_ok = not isinstance(reply, Exception)
        assert gnugo_ok == want.startswith("="), f"{command!r}: GNU Go {'accepts' if gnugo_ok else 'rejects'} it"
        if command.startswith("fixed_handicap") and gnugo_ok:  # the placement itself, in any order
            assert sorted(reply.upper().split()) == sorted(want.split()[1:]), command
