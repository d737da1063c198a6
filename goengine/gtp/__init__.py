"""The GTP engine: `goengine gtp` speaks the Go Text Protocol on stdin/stdout.

Start reading at engine.py (the protocol: parsing, ids, responses, errors, dispatch; it knows nothing
about Go), then handlers.py (the Go commands over a stack of Positions, a Player and a Clock), clock.py
(time systems and the seconds a move may take) and cli.py (the subcommand). The referee that
drives two such engines is goengine/referee.py (`goengine match`: goengine/match.py).
"""
from goengine.gtp import analysis, client, clock, engine, handlers  # noqa: F401
