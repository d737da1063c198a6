"""Benchmarks: each prints one JSON line of figures with a peer measured in the same run.

Run through the console script (`goengine bench board --json`) or as modules (`python -m bench.board`).
Figures are per CPU-second of the one core the benchmark runs on (time.process_time), so other load on
the machine slows the clock of neither side and ratios stay meaningful.
"""
