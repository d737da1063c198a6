"""selfplay: Ray-distributed self-play workers, replay buffer, gating arena and pipelines.

Start reading at `worker.py` (a plain class playing many games at once, their leaves batched into one
net call), then `orchestrator.py` (the same worker as Ray actors, restarted when they die), then
`inference.py` (one inference actor, on a GPU, evaluating the leaves of all workers in merged passes).
"""
