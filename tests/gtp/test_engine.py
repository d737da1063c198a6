"""The protocol layer (goengine/gtp/engine.py) on its own: preprocessing, ids, response format, the
one catch-all, streaming responses, quit and end of input (GTP 2 draft, sections 2 and 3)."""
from __future__ import annotations

import io
import time

import pytest

from goengine.gtp import engine as gtp
from goengine.gtp.engine import Command, GtpEngine, GtpError, ListSource
from tests.gtp.live import LiveEngine


def _engine(stderr=None) -> GtpEngine:
    e = GtpEngine("test", "1.0", stderr=stderr if stderr is not None else io.StringIO())
    e.register("echo", lambda args: " ".join(args))
    e.register("lines", lambda args: "\n" + "\n\n".join(args) + "\n")
    e.register("refuse", lambda args: (_ for _ in ()).throw(GtpError("refused politely")))
    e.register("crash", lambda args: 1 / 0)
    return e


def _serve(engine: GtpEngine, text: str) -> str:
    out = io.StringIO()
    engine.serve(ListSource(text.split("\n")), out)
    return out.getvalue()


@pytest.mark.parametrize("line, command", [
    ("name", Command("", "name", [])),
    ("12 play b D4", Command("12", "play", ["b", "D4"])),
    ("  play\tb \t D4  ", Command("", "play", ["b", "D4"])),
    ("play b D4\r", Command("", "play", ["b", "D4"])),
    ("pl\x00ay b D\x1f4", Command("", "play", ["b", "D4"])),
    ("play b D4 # the best move", Command("", "play", ["b", "D4"])),
    ("3", Command("3", "", [])),
    ("-3 name", Command("", "-3", ["name"])),
    ("\u0663 name", Command("", "\u0663", ["name"])),  # an Arabic-Indic digit is not an id
])
def test_parse(line, command):
    assert gtp.parse(line) == command


@pytest.mark.parametrize("line", ["", "   ", "\t", "# comment", "  # comment", "\r", "\x01\x02"])
def test_lines_without_a_command_get_no_reply(line):
    assert gtp.parse(line) is None
    assert _engine().handle(line) is None


def test_format_response():
    assert gtp.format_response("", True, "") == "=\n\n"
    assert gtp.format_response("7", True, "D4") == "=7 D4\n\n"
    assert gtp.format_response("7", False, "illegal move") == "?7 illegal move\n\n"
    assert gtp.format_response("", True, "\nrow 1\nrow 2") == "=\nrow 1\nrow 2\n\n"
    # an empty line inside a response would end it early: dropped; tabs and control characters too
    assert gtp.format_response("", True, "a\n\n  \nb\tc\x07") == "= a\nb c\n\n"


def test_ids_and_errors():
    e = _engine()
    assert e.handle("5 echo hello  world") == "=5 hello world\n\n"
    assert e.handle("echo") == "=\n\n"
    assert e.handle("6 nothing") == "?6 unknown command\n\n"
    assert e.handle("ECHO x") == "? unknown command\n\n"  # names are case-sensitive
    assert e.handle("6") == "?6 syntax error\n\n"
    assert e.handle("8 lines a b") == "=8\na\nb\n\n"
    assert e.handle("protocol_version") == "= 2\n\n"
    assert e.handle("name") == "= test\n\n"
    assert e.handle("version") == "= 1.0\n\n"
    assert e.handle("known_command crash") == "= true\n\n"
    assert e.handle("known_command list_commands") == "= true\n\n"
    assert e.handle("known_command nothing") == "= false\n\n"
    listed = e.handle("list_commands")[2:-2].split("\n")
    assert {"protocol_version", "name", "version", "known_command", "list_commands", "quit", "echo"} <= set(listed)


def test_the_dispatcher_catches_everything_and_logs_only_the_unexpected():
    stderr = io.StringIO()
    e = _engine(stderr)
    assert e.handle("1 refuse") == "?1 refused politely\n\n"
    assert stderr.getvalue() == ""  # a GtpError is an answer, not a bug
    assert e.handle("2 crash") == "?2 division by zero\n\n"
    assert "Traceback" in stderr.getvalue() and "ZeroDivisionError" in stderr.getvalue()
    assert e.handle("3 echo alive") == "=3 alive\n\n"


def test_serve_answers_every_command_line_once_and_stops_at_quit():
    out = _serve(_engine(), "1 echo a\n\n# nothing\n2 crash\r\n  \n3 quit\n4 echo never")
    assert out == "=1 a\n\n?2 division by zero\n\n=3\n\n"


def test_serve_ends_at_end_of_input():
    assert _serve(_engine(), "echo last") == "= last\n\n"


def _counting_stream(args, out: gtp.Stream):
    if args and args[0] == "bad":
        raise GtpError("syntax error")
    out.open()
    n = 0
    while True:  # like a search: report, then look for input
        n += 1
        out.line(f"tick {n}")
        if args and args[0] == "explode" and n == 2:
            raise RuntimeError("boom")
        if out.interrupted():
            break
        time.sleep(0.005)
    out.wait_for_input()


def test_streaming_response_lasts_until_the_next_command():
    stderr = io.StringIO()
    e = _engine(stderr)
    e.register_stream("count", _counting_stream)
    live = LiveEngine(e)
    try:
        live.send("4 count")
        live.wait_for(lambda text: "tick 3\n" in text)
        live.send("5 echo after")
        text = live.wait_for(lambda text: text.endswith("=5 after\n\n"))
        head, ticks = text.split("\n", 1)
        assert head == "=4"
        ticks, rest = ticks.split("\n\n", 1)
        assert [int(t.split()[1]) for t in ticks.split("\n")] == list(range(1, len(ticks.split("\n")) + 1))
        assert rest == "=5 after\n\n"
        # an empty line (Sabaki's "abort") ends a stream and is then ignored
        live.send("count")
        live.wait_for(lambda text: text.count("tick 1\n") == 2)
        live.send("")
        live.send("echo next")
        text = live.wait_for(lambda text: text.endswith("= next\n\n"))
        assert text.split("=5 after\n\n")[1].split("\n")[0] == "="
        assert "\n\n= next\n\n" in text
        # bad arguments answer `?`; an error after the `=` line ends the stream and is logged
        live.send("6 count bad")
        live.wait_for(lambda text: text.endswith("?6 syntax error\n\n"))
        live.send("7 count explode")
        live.wait_for(lambda text: text.endswith("tick 2\n\n"))
        assert "RuntimeError: boom" in stderr.getvalue()
        live.send("echo survived")
        live.wait_for(lambda text: text.endswith("= survived\n\n"))
    finally:
        live.close()


def test_streaming_in_process_stops_after_one_line():
    e = _engine()
    e.register_stream("count", _counting_stream)
    assert _serve(e, "count\nname") == "=\ntick 1\n\n= test\n\n"
    with pytest.raises(ValueError):
        e.handle("count")
