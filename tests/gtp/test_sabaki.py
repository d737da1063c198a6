"""A real GTP client: Sabaki's library (@sabaki/gtp, from npm) runs tests/gtp/client/play.js, which has
two `goengine gtp` processes play a whole game and reads lz-analyze streams the way Sabaki does."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from goengine.position import Position

CLIENT = os.path.join(os.path.dirname(__file__), "client")


@pytest.fixture(scope="session")
def sabaki_client() -> str:
    """The client directory with node_modules installed (npm ci from package-lock.json on first use)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm/node are not installed: cannot install or run Sabaki's @sabaki/gtp client")
    if not os.path.isdir(os.path.join(CLIENT, "node_modules", "@sabaki", "gtp")):
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed in {CLIENT}:\n{done.stdout}\n{done.stderr}"
    return CLIENT


def test_sabaki_plays_a_game_and_reads_analysis(sabaki_client):
    config = {"engine": [sys.executable, "-m", "goengine.cli", "gtp", "--engine", "random"],
              "size": 9, "maxMoves": 400}
    done = subprocess.run(["node", "play.js", json.dumps(config)], cwd=sabaki_client, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["stderr"] == []

    # the game: every move legal for an independent referee, ended by two passes
    pos = Position(9, komi=7.5)
    for colour, move in seen["moves"]:
        pos = pos.play(move, colour)
    assert pos.passes == 2 and len(seen["moves"]) > 40
    assert seen["scores"][0] == seen["scores"][1] == pos.result()  # random judges nothing dead

    assert seen["illegal"] == {"id": None, "content": "illegal move", "error": True}
    assert seen["withId"] == {"id": 17, "content": "goengine", "error": False}

    for key, colour in (("analysis", "b"), ("aborted", "w")):
        stream = seen[key]
        assert stream["response"]["error"] is False and len(stream["lines"]) >= 1
        assert stream["response"]["content"].split("\n") == stream["lines"]
        infos = stream["lines"][0].split("info ")[1:]
        moves = [info.split()[1] for info in infos]
        assert len(moves) == 10 and all(Position(9).is_legal(m, colour) for m in moves)
    assert seen["analysis"]["next"]["content"] == "goengine"
    assert seen["aborted"]["next"]["content"] == "2"
