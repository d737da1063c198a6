"""AlphaGo Lee's training stages (Silver et al. 2016, "Mastering the game of Go with deep neural networks and
tree search", Methods): records, the SL policy, the rollout policy, the RL policy and the value net.

Start reading at `dataset.py` (the converted record format and its reader), then `convert.py` (SGF
collections -> records, `goengine data convert`), `sl.py` (the 13-layer SL policy by SGD, its `loss_fn`) and
`rollout.py` (the linear rollout policy and `load_rollout_policy`). A run folder R holds R/sl.pt,
R/rollout.pt, then R/rl.pt and R/value.pt; each stage keeps its logs in R/<stage>/ (metrics.csv,
tensorboard/, a PNG). The command lines are selfplay/pipelines/lee_*.py.

Nothing here imports torch at package import: `goengine data convert` runs without it.
"""
