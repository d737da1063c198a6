"""The controller side of GTP: one engine as a child process, with per-command timeouts.

A thread reads the engine's stdout into a queue so that a command can time out; another keeps the last
lines of its stderr for crash reports (an unread stderr pipe would fill and block the engine). Responses
are read per GTP 2 section 2.6: lines before the first one starting with `=` or `?` are skipped, and the
response ends at the first empty line.
"""
from __future__ import annotations

import collections
import os
import queue
import subprocess
import threading
import time


class EngineError(Exception):
    """Base of what can go wrong talking to an engine."""


class EngineFailure(EngineError):
    """The engine answered `? message`."""


class EngineCrashed(EngineError):
    """The engine's process ended (or could not be written to)."""


class EngineTimeout(EngineError):
    """No complete answer within the time allowed."""


class GtpProcess:
    """A GTP engine started from `argv`; `send` returns a success's text or raises an EngineError."""

    def __init__(self, argv: list[str], label: str, stderr_lines: int = 20):
        if not argv:
            raise ValueError("empty engine command line")
        self.argv, self.label = list(argv), label
        self.process: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=stderr_lines)
        self.starts = 0

    # --- life cycle ---
    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_started(self) -> None:
        """Start the engine if it is not running (first use, or after a crash or timeout)."""
        if self.alive:
            return
        self.kill()
        self._lines = queue.Queue()
        self._stderr_tail.clear()
        self.process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                        errors="replace", bufsize=1)
        self.starts += 1
        threading.Thread(target=self._pump_stdout, args=(self.process, self._lines), daemon=True).start()
        threading.Thread(target=self._pump_stderr, args=(self.process,), daemon=True).start()

    @staticmethod
    def _pump_stdout(process: subprocess.Popen, lines: queue.Queue) -> None:
        try:
            for line in process.stdout:
                lines.put(line.rstrip("\r\n"))
        except (OSError, ValueError):
            pass
        lines.put(None)

    def _pump_stderr(self, process: subprocess.Popen) -> None:
        try:
            for line in process.stderr:
                self._stderr_tail.append(line.rstrip())
        except (OSError, ValueError):
            pass

    def stderr_tail(self) -> str:
        return " | ".join(self._stderr_tail)

    def kill(self) -> None:
        """End the process now (ours, by its handle)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None:
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                try:
                    stream.close()
                except (OSError, ValueError):
                    pass
        self.process = None

    def close(self, timeout: float = 3.0) -> None:
        """`quit`, then kill if it does not end within `timeout`."""
        if self.alive:
            try:
                self.send("quit", timeout)
                self.process.wait(timeout=timeout)
            except (EngineError, subprocess.TimeoutExpired):
                pass
        self.kill()

    # --- commands ---
    def send(self, command: str, timeout: float) -> str:
        """Send one command and return the text of its success response (without the `=`)."""
        if not self.alive:
            raise EngineCrashed(self._crash_message("is not running"))
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except (OSError, ValueError):
            raise EngineCrashed(self._crash_message("closed its input")) from None
        deadline = time.monotonic() + timeout
        response: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(0.0, remaining))
            except queue.Empty:
                raise EngineTimeout(f"{self.label}: no answer to {command!r} within {timeout:g}s") from None
            if line is None:
                raise EngineCrashed(self._crash_message(f"exited during {command!r}"))
            if not response and not line[:1] in ("=", "?"):
                continue  # noise before the response: ignore, as controllers do
            if line.strip() == "" and response:
                break
            response.append(line)
        first = response[0]
        body = first[1:].lstrip("0123456789")  # drop the marker and any id
        text = "\n".join([body.strip()] + response[1:]).strip()
        if first.startswith("?"):
            raise EngineFailure(text or "failure")
        return text

    def _crash_message(self, what: str) -> str:
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        tail = self.stderr_tail()
        return f"{self.label} {what} (exit status {code})" + (f"; stderr: {tail}" if tail else "")

    def identify(self, timeout: float) -> str:
        """Label the engine by its `name` and `version` (else its program name)."""
        try:
            name = self.send("name", timeout)
        except EngineFailure:
            name = os.path.basename(self.argv[0])
        try:
            version = self.send("version", timeout)
        except EngineFailure:
            version = ""
        self.label = f"{name} {version}".strip() or os.path.basename(self.argv[0])
        return self.label
