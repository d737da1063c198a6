"""selfplay: Ray-distributed self-play workers, the inference server, the gating arena and the `goengine
selfplay` command.

Start reading at `worker.py` (a plain class playing many games at once, their leaves batched into one
net call), then `orchestrator.py` (the same worker as Ray actors, restarted when they die), then
`inference.py` (one inference actor, on a GPU, evaluating the leaves of all workers in merged passes);
`reaper.py` ends an embedded Ray's processes if the driver dies. `pipelines/` holds what plays and
trains in one run (the AlphaGo Zero loop, AlphaGo Lee's stages); `train_cli.py` is `goengine train`.
"""
