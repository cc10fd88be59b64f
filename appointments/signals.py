from . import services


def appointment_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    services.record_status_change(instance, created=created)


def appointment_deleted(sender, instance, **kwargs) -> None:
    services.forget_appointment(instance)
