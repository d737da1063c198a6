"""selfplay: Ray-distributed self-play workers, replay buffer, gating arena and pipelines."""
