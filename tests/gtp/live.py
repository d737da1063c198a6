"""An engine served on a thread over a real pipe, so tests control when each line arrives."""
from __future__ import annotations

import io
import os
import threading
import time

from goengine.gtp.engine import GtpEngine, LineSource


class LiveEngine:
    def __init__(self, engine: GtpEngine):
        self.engine = engine
        read_fd, write_fd = os.pipe()
        self._writer = os.fdopen(write_fd, "w")
        self._reader = os.fdopen(read_fd, "r")
        self.out = io.StringIO()
        self._thread = threading.Thread(target=engine.serve, args=(LineSource(self._reader), self.out), daemon=True)
        self._thread.start()

    def send(self, line: str) -> None:
        self._writer.write(line + "\n")
        self._writer.flush()

    def output(self) -> str:
        return self.out.getvalue()

    def wait_for(self, predicate, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            if predicate(text):
                return text
            time.sleep(0.01)
        raise AssertionError(f"timed out; output so far: {self.output()!r}")

    def close(self) -> None:
        self._writer.close()
        self._thread.join(timeout=20)
        self._reader.close()
        assert not self._thread.is_alive(), "the engine did not stop at end of input"
