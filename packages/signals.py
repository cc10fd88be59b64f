from clients.services import refresh_client_figures


def payment_changed(sender, instance, raw=False, **kwargs) -> None:
    if raw:
        return
    refresh_client_figures(instance.client_id)
