"""Channel backends for tests: providers that always fail in a known way. They
stand in for the outside world only; the outbox code under test runs for real."""

from communications.channels import Backend, PermanentError, TransientError


class AlwaysTransient(Backend):
    calls = 0

    def send(self, message):
        type(self).calls += 1
        raise TransientError("provider 503: try later")


class AlwaysPermanent(Backend):
    def send(self, message):
        raise PermanentError("provider 400: not a mobile number", invalid_address=True)
