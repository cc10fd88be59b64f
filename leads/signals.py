from . import services


def lead_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    services.record_lead_status_change(instance, created=created)
