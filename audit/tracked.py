"""What the audit trail records: which models, which fields, and whose agency a change is.

django-auditlog writes an entry (who, when, each field's old and new value) on every save and
delete of these models. Secrets are never among the fields: the Fakturoid Secret ID and token
(encrypted fields), the token's expiry and the invitation token's hash are excluded, so
neither their values nor their ciphertext ever reach the log.
"""

from auditlog.registry import auditlog
from django.apps import apps
from django.db import models

NOISE = ["created_at", "updated_at"]

TRACKED: dict[str, dict] = {
    "agencies.FakturoidSettings": {
        "exclude_fields": [*NOISE, "api_client_secret", "access_token", "token_expires_at"]
    },
    "agencies.Membership": {"exclude_fields": NOISE},
    "agencies.Invitation": {"exclude_fields": [*NOISE, "token_hash"]},
    "clients.Client": {"exclude_fields": NOISE, "m2m_fields": {"labels"}},
    "clients.Project": {"exclude_fields": NOISE},
    "clients.BillingItem": {"exclude_fields": NOISE},
    "fakturoid.Invoice": {
        "exclude_fields": [*NOISE, "lines", "html_url", "public_html_url", "pdf_url"]
    },
}


def register_tracked_models() -> None:
    for label, options in TRACKED.items():
        auditlog.register(apps.get_model(label), **options)


def scope_of(instance: models.Model) -> tuple[int | None, int | None]:
    """(agency id, client id) a change of `instance` belongs to; the client id may be None.

    Read from ids, with at most one query, so that it also works while the object (or its
    parent, in a cascade) is being deleted.
    """
    label = instance._meta.label
    if label in {"agencies.FakturoidSettings", "agencies.Membership", "agencies.Invitation"}:
        return instance.agency_id, None
    if label == "clients.Client":
        return instance.agency_id, instance.pk
    if label == "fakturoid.Invoice":
        return instance.agency_id, instance.client_id
    Client = apps.get_model("clients", "Client")
    if label == "clients.Project":
        client_id = instance.client_id
    elif label == "clients.BillingItem":
        Project = apps.get_model("clients", "Project")
        client_id = (
            Project.objects.filter(pk=instance.project_id)
            .values_list("client_id", flat=True)
            .first()
        )
    else:
        return None, None
    agency_id = Client.objects.filter(pk=client_id).values_list("agency_id", flat=True).first()
    return agency_id, client_id
