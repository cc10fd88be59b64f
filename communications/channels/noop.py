from . import Backend, Result


class NoopBackend(Backend):
    """Sends nothing and succeeds: for benchmarks of the outbox itself."""

    def send(self, message) -> Result:
        return Result(provider_id=f"noop-{message.pk}")
