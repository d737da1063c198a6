"""GTP itself: line preprocessing, ids, responses, canonical errors and dispatch. Knows nothing about Go.

Follows the Go Text Protocol version 2 draft (G. Farnebäck, 2002, http://www.lysator.liu.se/~gunnar/gtp),
section 2 (protocol) and 3 (preprocessing):

    input   [id] command_name [arguments]\\n
    output  =[id] result\\n\\n        on success
            ?[id] error_message\\n\\n on failure

Preprocessing (spec 3.1): control characters other than HT and LF are removed (so CR LF works), text from
`#` on is a comment, HT becomes a space, and empty or white-space lines are ignored: they get no reply.
Every other line gets exactly one reply; a line that is only an id gets `?id syntax error`. Command
names are case-sensitive, as in the spec and GNU Go (`PLAY` is an unknown command).

Streaming commands (Leela Zero's `lz-analyze`) answer `=[id]` on a line of its own, then lines of
analysis until the next input line arrives, then the empty line that ends every GTP response; the line
that interrupted is then read as the next command (an empty line, Sabaki's "abort", is just consumed).

`GtpEngine.serve` is the one place that catches `Exception`: a handler's `GtpError` becomes `? message`
quietly, any other exception becomes `? message` with the traceback on stderr, and the engine goes on.
"""
from __future__ import annotations

import os
import queue
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TextIO

# canonical error texts: the spec's where it names one, GNU Go's (the reference engine) otherwise
SYNTAX_ERROR = "syntax error"
UNKNOWN_COMMAND = "unknown command"
ILLEGAL_MOVE = "illegal move"
UNACCEPTABLE_SIZE = "unacceptable size"
CANNOT_UNDO = "cannot undo"
INVALID_HANDICAP = "invalid handicap"
BOARD_NOT_EMPTY = "board not empty"
BAD_VERTEX_LIST = "bad vertex list"
CANNOT_LOAD_FILE = "cannot load file"

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # every control character but HT (LF is the separator)


class GtpError(Exception):
    """A failure the controller should see as `? message`; not logged."""


def number(token: str, kind=float):
    """A finite int or float argument, else GtpError("syntax error")."""
    try:
        value = kind(token)
    except ValueError:
        raise GtpError(SYNTAX_ERROR) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise GtpError(SYNTAX_ERROR)
    return value


@dataclass(frozen=True)
class Command:
    id: str  # "" when the line had none; digits otherwise
    name: str
    args: list[str] = field(default_factory=list)


def preprocess(line: str) -> str:
    """Spec 3.1 on one line (without its LF): drop control characters, comments, turn HT into space."""
    line = _CONTROL.sub("", line.replace("\n", ""))
    line = line.split("#", 1)[0]
    return line.replace("\t", " ").strip()


def parse(line: str) -> Command | None:
    """A raw input line -> Command, or None for a line that gets no reply (empty, comment)."""
    tokens = preprocess(line).split()
    if not tokens:
        return None
    cid = tokens[0] if tokens[0].isascii() and tokens[0].isdigit() else ""
    if cid:
        tokens = tokens[1:]
    if not tokens:
        return Command(cid, "", [])
    return Command(cid, tokens[0], tokens[1:])


def _clean(text: str) -> list[str]:
    """Response text -> its lines, with nothing that could end the response early or break a client:
    no empty lines, no control characters, spaces only."""
    lines = []
    for raw in str(text).replace("\r", "").split("\n"):
        line = _CONTROL.sub("", raw).replace("\t", " ").rstrip()
        if line:
            lines.append(line)
    return lines


def format_response(cid: str, ok: bool, text: str = "") -> str:
    """`=id text\\n\\n` / `?id text\\n\\n`. A multi-line text starts on the line after the marker when its
    first line is empty (showboard), as GNU Go does."""
    head = ("=" if ok else "?") + cid
    starts_on_next_line = str(text).startswith("\n")
    lines = _clean(text)
    if not lines:
        return head + "\n\n"
    if starts_on_next_line:
        return head + "\n" + "\n".join(lines) + "\n\n"
    return head + " " + "\n".join(lines) + "\n\n"


class LineSource:
    """Input lines with a non-blocking look-ahead, so a streaming command can tell that the next
    command has arrived. A thread reads the stream; `get()` returns None at end of input. Only the
    serving thread calls get/pending/wait."""

    def __init__(self, lines: Iterable[str]):
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._peeked: list[str | None] = []
        self._thread = threading.Thread(target=self._pump, args=(iter(lines),), daemon=True, name="gtp-stdin")
        self._thread.start()

    def _pump(self, lines: Iterator[str]) -> None:
        try:
            for line in lines:
                self._queue.put(line)
        except (OSError, ValueError):  # stdin closed under us: same as end of input
            pass
        self._queue.put(None)

    def get(self) -> str | None:
        return self._peeked.pop() if self._peeked else self._queue.get()

    def pending(self) -> bool:
        """Whether a line (or the end of input) is waiting to be read."""
        return bool(self._peeked) or not self._queue.empty()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until input is pending (or timeout); True if it is."""
        if self.pending():
            return True
        try:
            self._peeked.append(self._queue.get(timeout=timeout))
        except queue.Empty:
            return False
        return True


def fd_lines(fd: int) -> Iterator[str]:
    """The lines of a file descriptor, split at LF only (a lone CR is a control character to drop, spec
    3.1), undecodable bytes as U+FFFD. Reads with os.read rather than through sys.stdin: a thread
    blocked inside a buffered reader holds its lock, and interpreter shutdown after `quit` would then
    abort with "could not acquire lock for <stdin>"."""
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", errors="replace") + "\n"
    if pending:
        yield pending.decode("utf-8", errors="replace")


class ListSource(LineSource):
    """A LineSource over a fixed list, without a thread: deterministic for in-process tests (input is
    always pending until the list is exhausted, then the end of input is)."""

    def __init__(self, lines: Iterable[str]):
        self._lines = list(lines)
        self._i = 0

    def get(self) -> str | None:
        if self._i >= len(self._lines):
            return None
        self._i += 1
        return self._lines[self._i - 1]

    def pending(self) -> bool:
        return True

    def wait(self, timeout: float | None = None) -> bool:
        return True


class Stream:
    """What a streaming handler writes to. `open()` sends the `=id` line: call it once the arguments
    are known to be good (before it, raising GtpError still answers `? message`)."""

    def __init__(self, engine: "GtpEngine", cid: str):
        self._engine, self._cid = engine, cid
        self.opened = False

    def open(self) -> None:
        if not self.opened:
            self.opened = True
            self._engine._write("=" + self._cid + "\n")

    def line(self, text: str) -> None:
        self.open()
        for line in _clean(text):
            self._engine._write(line + "\n")

    def interrupted(self) -> bool:
        """Whether the controller has sent anything since the command (so the stream should end)."""
        return self._engine.source.pending()

    def wait_for_input(self) -> None:
        """The lz convention: an analysis response lasts until the next input line."""
        self._engine.source.wait()


Handler = Callable[[list[str]], str]
StreamHandler = Callable[[list[str], Stream], None]


class GtpEngine:
    """A registry of command handlers and the loop that serves them over text streams."""

    def __init__(self, name: str, version: str, stderr: TextIO | None = None):
        self.name, self.version = name, version
        self.stderr = stderr if stderr is not None else sys.stderr
        self._handlers: dict[str, Handler] = {}
        self._streaming: dict[str, StreamHandler] = {}
        self.out: TextIO = sys.stdout
        self.source: LineSource = ListSource([])
        self.quit_requested = False
        self._closers: list[Callable[[], None]] = []
        self.register("protocol_version", lambda args: "2")
        self.register("name", lambda args: self.name)
        self.register("version", lambda args: self.version)
        self.register("known_command", self._known_command)
        self.register("list_commands", lambda args: "\n".join(self.commands()))
        self.register("quit", self._quit)

    # --- registry ---
    def register(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def register_stream(self, name: str, handler: StreamHandler) -> None:
        self._streaming[name] = handler

    def add_closer(self, close: Callable[[], None]) -> None:
        """Call `close()` when serving ends (quit, end of input, or an error): background threads stop
        there, so the process leaves nothing behind."""
        self._closers.append(close)

    def commands(self) -> list[str]:
        return sorted(set(self._handlers) | set(self._streaming))

    def _known_command(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GtpError(SYNTAX_ERROR)
        return "true" if args[0] in self._handlers or args[0] in self._streaming else "false"

    def _quit(self, args: list[str]) -> str:
        self.quit_requested = True
        return ""

    # --- dispatch ---
    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _log_exception(self, command: Command) -> None:
        print(f"gtp: command {command.name!r} {command.args!r} failed:", file=self.stderr)
        traceback.print_exc(file=self.stderr)
        self.stderr.flush()

    def _fail(self, command: Command, e: Exception) -> str:
        if isinstance(e, GtpError):
            return str(e) or SYNTAX_ERROR
        self._log_exception(command)
        return str(e).splitlines()[0] if str(e).strip() else type(e).__name__

    def respond(self, command: Command) -> str:
        """The full response text for one non-streaming command. Never raises."""
        if not command.name:
            return format_response(command.id, False, SYNTAX_ERROR)
        handler = self._handlers.get(command.name)
        if handler is None:
            return format_response(command.id, False, UNKNOWN_COMMAND)
        try:
            return format_response(command.id, True, handler(list(command.args)))
        except Exception as e:  # the one catch-all: the engine answers and lives on
            return format_response(command.id, False, self._fail(command, e))

    def _run_stream(self, command: Command) -> None:
        stream = Stream(self, command.id)
        try:
            self._streaming[command.name](list(command.args), stream)
        except Exception as e:  # the one catch-all, streaming half
            if not stream.opened:
                self._write(format_response(command.id, False, self._fail(command, e)))
                return
            self._log_exception(command)  # the `=` line is out: end the response, keep the reason on stderr
        stream.open()
        self._write("\n")

    def handle(self, line: str) -> str | None:
        """One input line -> its response text (None for lines that get none). For in-process use of
        non-streaming commands; `serve` is the real loop."""
        command = parse(line)
        if command is None:
            return None
        if command.name in self._streaming:
            raise ValueError("streaming commands need serve()")
        return self.respond(command)

    def serve(self, source: LineSource | Iterable[str], out: TextIO) -> int:
        """Answer commands from `source` on `out` until `quit` or end of input. Returns 0."""
        self.source = source if isinstance(source, LineSource) else LineSource(source)
        self.out = out
        self.quit_requested = False
        try:
            while not self.quit_requested:
                line = self.source.get()
                if line is None:
                    break
                command = parse(line)
                if command is None:
                    continue
                if command.name in self._streaming:
                    self._run_stream(command)
                else:
                    self._write(self.respond(command))
        finally:
            for close in self._closers:
                close()
        return 0
