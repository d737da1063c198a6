"""rl: game records, trainers, evaluators, Elo ratings, and trained nets as GTP players.

Start reading at `records.py` (the one game-record schema self-play writes and trainers read), then
`alphago_zero/` (the Zero trainer, replay window and net evaluator), `alphago_lee/` (records converter,
SL, rollout, REINFORCE and value trainers, the Lee player), `envs/` (the gymnasium env goengine/Go-v0),
`algorithms/` (tabular and deep RL on it), `compression/` (`goengine compress`) and `players.py` (how
`goengine gtp` finds a net player without goengine importing rl). Pipelines that play games on Ray and train on them
(the Zero generation loop, AlphaGo Lee's stages) live one layer up, in selfplay/pipelines/.
"""
