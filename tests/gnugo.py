"""A small GTP client for GNU Go 3.8, the independent oracle of the differential tests.

    with GnuGo("--positional-superko", "--forbid-suicide") as gg:
        gg.send("boardsize 9")
        gg.send("play black E5")
        black = gg.send("list_stones black").split()
        replies = gg.send_many(["play white C3", "captures white"])   # one round trip

GNU Go runs as `/usr/games/gnugo --mode gtp --chinese-rules [options]`. Each reply is read up to the
blank line that ends a GTP response (GTP 2 spec, section 2.9); a `?` reply raises `GtpError` (or comes
back as one with `check=False`). Commands carry no ids, so replies match commands by order.
"""
from __future__ import annotations

import os
import subprocess
from typing import Iterable, Sequence

GNUGO_PATH = "/usr/games/gnugo"
# A batch's commands are written before any reply is read. GNU Go stops reading stdin while its stdout
# pipe is full, so a batch must fit the kernel's stdin pipe buffer (64 KiB on Linux) to never deadlock.
_MAX_BATCH_BYTES = 32 * 1024


def gnugo_available(path: str = GNUGO_PATH) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def skip_reason(path: str = GNUGO_PATH) -> str:
    """Why tests that need GNU Go cannot run here (for pytest.mark.skipif)."""
    return f"GNU Go not found at {path} (install the gnugo package; CI does)"


class GtpError(RuntimeError):
    """GNU Go answered `? message` to a command."""

    def __init__(self, command: str, message: str):
        self.command, self.message = command, message
        super().__init__(f"GNU Go rejected {command!r}: {message}")


class GnuGo:
    """One GNU Go process speaking GTP on pipes. Close it (or use `with`) to end the process."""

    def __init__(self, *options: str, path: str = GNUGO_PATH, chinese_rules: bool = True):
        if not gnugo_available(path):
            raise FileNotFoundError(skip_reason(path))
        self.argv = [path, "--mode", "gtp"] + (["--chinese-rules"] if chinese_rules else []) + list(options)
        self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, encoding="ascii", bufsize=1)

    # --- protocol ---
    def send(self, command: str) -> str:
        """Send one command and return the reply text (without the leading "= "). Raises GtpError."""
        return self.send_many([command])[0]

    def send_many(self, commands: Iterable[str], check: bool = True) -> list:
        """Send commands in batches, one round trip per batch, and return their replies in order.

        With check=True the first `?` reply raises GtpError (after every reply of its batch was read, so
        the process stays in step). With check=False a failed command's entry is its GtpError."""
        commands = list(commands)
        replies: list = []
        start = 0
        while start < len(commands):
            end, size = start, 0
            while end < len(commands) and (end == start or size + len(commands[end]) + 1 <= _MAX_BATCH_BYTES):
                size += len(commands[end]) + 1
                end += 1
            replies += self._round_trip(commands[start:end])
            start = end
        if check:
            for reply in replies:
                if isinstance(reply, GtpError):
                    raise reply
        return replies

    def _round_trip(self, commands: Sequence[str]) -> list:
        proc = self._proc
        if proc.poll() is not None:
            raise RuntimeError(f"GNU Go exited with status {proc.returncode} ({' '.join(self.argv)})")
        for c in commands:
            if "\n" in c:
                raise ValueError(f"a GTP command is one line: {c!r}")
        proc.stdin.write("".join(c + "\n" for c in commands))
        proc.stdin.flush()
        return [self._read_reply(c) for c in commands]

    def _read_reply(self, command: str):
        lines: list[str] = []
        while True:
            line = self._proc.stdout.readline()
            if line == "":
                raise RuntimeError(f"GNU Go closed its output while answering {command!r}")
            line = line.rstrip("\r\n")
            if line == "" and lines:  # the blank line that ends a response
                break
            if line or lines:  # GTP allows stray blank lines before a response
                lines.append(line)
        head, text = lines[0], "\n".join([lines[0][1:].strip()] + lines[1:])
        if head.startswith("?"):
            return GtpError(command, text)
        if not head.startswith("="):
            raise RuntimeError(f"not a GTP response to {command!r}: {head!r}")
        return text

    # --- conveniences over the commands the tests use ---
    def stones(self, colour: str) -> set[str]:
        """The vertices of `colour`'s stones (colour: "black"/"white"/"b"/"w")."""
        return set(self.send(f"list_stones {colour}").upper().split())

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            try:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait(timeout=5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self) -> "GnuGo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        # a forgotten instance must not leave a gnugo process behind
        if getattr(self, "_proc", None) is not None and self._proc.poll() is None:
            self._proc.kill()

