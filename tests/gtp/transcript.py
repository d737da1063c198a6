"""Golden GTP transcripts (tests/fixtures/gtp/*.txt): reading them and playing them through the engine.

A transcript holds "> command" lines (escapes \\t, \\r, \\xNN allowed) each followed by the reply
expected, verbatim, blank terminator included; a command that gets no reply (comment, empty line) is
followed directly by the next "> " line. "#" lines before the first command describe the file, and
"{version}" stands for goengine's version.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys

import goengine

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "gtp")
ENGINE_ARGS = ["--engine", "random", "--seed", "1"]  # the engine every golden transcript was written for


def fixture_names() -> list[str]:
    return sorted(f for f in os.listdir(FIXTURES) if f.endswith(".txt"))


def _unescape(text: str) -> str:
    return re.sub(r"\\(t|r|x[0-9a-fA-F]{2})",
                  lambda m: {"t": "\t", "r": "\r"}.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), text)


def read(name: str) -> tuple[list[str], list[str]]:
    """(command lines, expected reply per command line: "" for those that get none)."""
    commands: list[str] = []
    replies: list[list[str]] = []
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if line.startswith(">"):
                commands.append(_unescape(line[2:] if line.startswith("> ") else line[1:]))
                replies.append([])
            elif commands:
                replies[-1].append(line)
    expected = []
    for block in replies:
        while block and block[-1] == "" and (len(block) < 2 or block[-2] == ""):
            block.pop()  # the file's final newline, not part of a reply
        expected.append("".join(b + "\n" for b in block).replace("{version}", goengine.__version__))
    return commands, expected


def engine_argv() -> list[str]:
    return [sys.executable, "-m", "goengine.cli", "gtp", *ENGINE_ARGS]


def build_engine(extra: list[str] | None = None, player=None, stderr=None):
    """The engine `goengine gtp` would serve with ENGINE_ARGS (+ extra), built in-process."""
    from goengine.cli import build_parser
    from goengine.gtp.cli import build_engine as build

    args = build_parser(only="gtp").parse_args(["gtp", *ENGINE_ARGS, *(extra or [])])
    return build(args, player=player, stderr=stderr if stderr is not None else io.StringIO())


def serve_in_process(lines: list[str], engine=None) -> str:
    from goengine.gtp.engine import ListSource

    engine = engine or build_engine()
    out = io.StringIO()
    wire = "".join(line + "\n" for line in lines).split("\n")[:-1]  # what a pipe would deliver, line by line
    engine.serve(ListSource([line + "\n" for line in wire]), out)
    return out.getvalue()


def start_subprocess() -> subprocess.Popen:
    """`goengine gtp` with ENGINE_ARGS; feed it with .communicate(lines_as_text(...))."""
    return subprocess.Popen(engine_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=os.path.dirname(FIXTURES))


def lines_as_bytes(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


def split_replies(output: str) -> list[str]:
    """Engine output -> one text per reply, each with its blank terminator."""
    return [block + "\n\n" for block in output.split("\n\n")[:-1]]
