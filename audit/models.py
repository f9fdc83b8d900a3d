from dataclasses import dataclass

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _

from audit.tracked import scope_of


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


SUMMARIES = {
    AbstractLogEntry.Action.CREATE: _("Created %(kind)s “%(name)s”"),
    AbstractLogEntry.Action.UPDATE: _("Changed %(kind)s “%(name)s”"),
    AbstractLogEntry.Action.DELETE: _("Deleted %(kind)s “%(name)s”"),
}


class ActivityQuerySet(models.QuerySet):
    def for_agency(self, agency_id: int) -> "ActivityQuerySet":
        return self.filter(agency_id=agency_id).select_related("actor", "content_type")

    def for_client(self, client: models.Model) -> "ActivityQuerySet":
        return self.for_agency(client.agency_id).filter(client_id=client.pk)


class ActivityManager(LogEntryManager.from_queryset(ActivityQuerySet)):
    """django-auditlog's manager; every entry is stamped with its agency and client."""

    def log_create(self, instance: models.Model, force_log: bool = False, **kwargs):  # noqa: ANN201
        self._stamp(instance, kwargs)
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):  # noqa: ANN001, ANN201
        self._stamp(instance, kwargs)
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)

    def record_update(self, instance: models.Model, changes: dict[str, tuple]) -> None:
        """Record a change made without a save (a queryset update): {field: (old, new)}."""
        self.log_create(
            instance,
            action=AbstractLogEntry.Action.UPDATE,
            changes={name: [str(old), str(new)] for name, (old, new) in changes.items()},
        )

    @staticmethod
    def _stamp(instance: models.Model, kwargs: dict) -> None:
        agency_id, client_id = scope_of(instance)
        kwargs.setdefault("agency_id", agency_id)
        kwargs.setdefault("client_id", client_id)


class ActivityEntry(AbstractLogEntry):
    """One change recorded by django-auditlog (who, when, each field's old and new value),
    with the agency and client it belongs to: each agency sees only its own activity.

    Plain ids rather than foreign keys: the entry for a deleted client (or agency) is written
    while that row is being deleted, and it must stay readable afterwards.
    """

    agency_id = models.BigIntegerField(_("agency"), null=True, db_index=True)
    client_id = models.BigIntegerField(_("client"), null=True, db_index=True)

    objects = ActivityManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("activity entry")
        verbose_name_plural = _("activity")
        indexes = [models.Index(fields=["agency_id", "client_id", "-timestamp"])]

    def summary(self) -> str:
        """What happened, e.g. Changed billing item “PPC management”."""
        model = self.content_type.model_class()
        kind = model._meta.verbose_name if model else self.content_type.model
        template = SUMMARIES.get(self.action, SUMMARIES[self.Action.UPDATE])
        return template % {"kind": kind, "name": self.object_repr}

    def field_changes(self) -> list[FieldChange]:
        """Each changed field with its value before and after, ready to show."""
        model = self.content_type.model_class()
        changes = []
        for name, values in (self.changes_dict or {}).items():
            try:
                field = model._meta.get_field(name) if model else None
            except FieldDoesNotExist:
                field = None
            if field is not None and (not field.concrete or field.primary_key):
                continue  # the id, and reverse relations auditlog lists on creation
            label = str(getattr(field, "verbose_name", name))
            if isinstance(values, dict):  # a many-to-many change: objects added or removed
                objects = ", ".join(values.get("objects", []))
                added = values.get("operation") == "add"
                changes.append(
                    FieldChange(label, "" if added else objects, objects if added else "")
                )
                continue
            old, new = (list(values) + ["", ""])[:2]
            changes.append(FieldChange(label, _shown(field, old), _shown(field, new)))
        return changes


def _shown(field: models.Field | None, value: str | None) -> str:
    if value in (None, "None", ""):
        return "—"
    choices = dict(getattr(field, "choices", None) or [])
    return str(choices.get(value, value))
