"""Channel backends for tests: providers that always fail in a known way. They
stand in for the outside world only; the outbox code under test runs for real."""

from communications.channels import Backend, PermanentError, Result, TransientError


class AlwaysTransient(Backend):
    calls = 0

    def send(self, message):
        type(self).calls += 1
        raise TransientError("provider 503: try later")


class AlwaysPermanent(Backend):
    def send(self, message):
        raise PermanentError("provider 400: not a mobile number", invalid_address=True)


class OutOfTimeOnSecond(Backend):
    """Sends one message, then the task's soft time limit strikes."""

    calls = 0

    def send(self, message):
        type(self).calls += 1
        if type(self).calls >= 2:
            from celery.exceptions import SoftTimeLimitExceeded

            raise SoftTimeLimitExceeded()
        return Result(provider_id="ok")


class MailboxFull(Backend):
    """A transient problem of one recipient, not of the provider."""

    def send(self, message):
        if message.to_address.startswith("full"):
            raise TransientError("452 mailbox full", channel_down=False)
        return Result(provider_id="ok")
