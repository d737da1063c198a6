"""goengine: a numba-accelerated Go board, Monte-Carlo tree search, feature planes and a GTP engine."""
