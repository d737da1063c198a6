"""Random and malformed input (Hypothesis): every line that holds a command gets exactly one
well-formed reply with its id, nothing is logged as an unexpected error, and the engine answers after."""
from __future__ import annotations

import io
import os
import re
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goengine.gtp import engine as gtp
from tests.gtp import transcript

NAMES = ["protocol_version", "name", "version", "known_command", "list_commands", "boardsize", "clear_board",
         "komi", "play", "genmove", "reg_genmove", "undo", "showboard", "final_score", "final_status_list",
         "fixed_handicap", "place_free_handicap", "set_free_handicap", "time_settings", "time_left",
         "kgs-time_settings", "kgs-genmove_cleanup", "lz-analyze", "lz-genmove_analyze", "loadsgf",
         "printsgf", "PLAY", "qui", "", "#"]
WORDS = ["b", "w", "black", "white", "B", "x", "pass", "PASS", "resign", "A1", "D4", "e5", "J9", "T19", "Z25",
         "I5", "A0", "A-1", "0", "1", "2", "3", "5", "9", "19", "25", "26", "-1", "1e9", "nan", "inf", "7.5",
         "alive", "dead", "seki", "none", "absolute", "byoyomi", "canadian", "interval", "maxmoves",
         "999999999999999999999", "\t", "#", "\x00", "\r", "\x1b[2J", "é", "\ufffd", "/nonexistent.sgf"]

word = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=6))
command_line = st.builds(
    lambda cid, name, args, sep: sep.join(([cid] if cid else []) + [name] + args),
    st.one_of(st.just(""), st.integers(0, 10**6).map(str)),
    st.sampled_from(NAMES),
    st.lists(word, max_size=5),
    st.sampled_from([" ", "\t", "  ", " \t "]),
)
line = st.one_of(command_line, command_line, command_line, st.text(max_size=30))


def _expected_ids(lines: list[str]) -> list[str]:
    ids = []
    for raw in lines:
        for part in raw.split("\n"):  # a line with a newline in it is two lines on the wire
            command = gtp.parse(part)
            if command is not None:
                ids.append(command.id)
    return ids


REPLY = re.compile(r"([=?])(\d*)(?:( [^\n]*)?|\n[^\n]+)(?:\n[^\n]+)*\n\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, max_size=12))
def test_one_well_formed_reply_per_command_line(lines):
    lines = [l for l in lines if "quit" not in l]  # quit ends the session: it is tested on its own
    stderr = io.StringIO()
    engine = transcript.build_engine(stderr=stderr)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:  # printsgf FILE writes where it is told
        os.chdir(tmp)
        try:
            out = transcript.serve_in_process(lines + ["name", "boardsize 9", "play b E5", "showboard"], engine)
        finally:
            os.chdir(cwd)
    replies = [m.group(0) for m in REPLY.finditer(out)]
    assert "".join(replies) == out, "output that is not a sequence of replies"
    assert [REPLY.match(r).group(2) for r in replies] == _expected_ids(lines) + ["", "", "", ""]
    assert replies[-4:-1] == ["= goengine\n\n", "=\n\n", "=\n\n"]  # alive, and the board still works
    assert "(X)" in replies[-1]
    assert stderr.getvalue() == "", "an input made a handler fail unexpectedly"
