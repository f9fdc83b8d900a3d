"""Background work on Django's tasks API: thin tasks that take ids, enqueued on commit.

Each task is safe to run twice: applying a webhook delivery records its outcome once, and a
dispatch item that is no longer waiting is left alone.
"""

from django_tasks import task

from fakturoid.services import sending, webhooks


@task()
def apply_webhook(received_id: int) -> str:
    """Apply one delivery the webhook receiver recorded."""
    return webhooks.apply_delivery(received_id=received_id)


@task()
def send_dispatch_item(item_id: int) -> str:
    """E-mail one invoice (or reminder) of a dispatch through Fakturoid."""
    return sending.send_item(item_id=item_id)
