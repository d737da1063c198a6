"""Ray for the training backends: join the caller's instance if there is one, else start an embedded one
with selfplay.orchestrator.start_ray (no dashboard, a reaper so nothing outlives the driver)."""
from __future__ import annotations


class RaySession:
    """ray.init when Ray is not running yet (then `close` shuts it down), else the running instance."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        import ray

        from selfplay.orchestrator import check_address, start_ray

        self.owns = False
        self._reaper = None
        if not ray.is_initialized():
            if address is not None:
                check_address(address)
            self._reaper = start_ray(address, num_cpus)
            self.owns = True

    def close(self) -> None:
        if self.owns:
            import ray

            from selfplay.orchestrator import stop_reaper

            ray.shutdown()
            stop_reaper(self._reaper)
            self.owns, self._reaper = False, None
