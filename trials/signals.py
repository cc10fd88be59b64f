from . import services


def trial_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    services.record_trial_status_change(instance, created=created)
