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


class TakenOverWhileSending(Backend):
    """Another worker takes ``taken@...`` back while this one sends it (as the sweep
    does with a message stuck past the timeout); the others go out, with a cost."""

    def send(self, message):
        from decimal import Decimal

        from communications.models import Message

        if message.to_address.startswith("taken"):
            Message.objects.filter(pk=message.pk).update(
                status=Message.Status.QUEUED, claimed_at=None
            )
        return Result(provider_id=f"p-{message.pk}", cost=Decimal("0.0075"))
