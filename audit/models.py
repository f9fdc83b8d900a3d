from dataclasses import dataclass
from datetime import UTC

from auditlog.models import AbstractLogEntry, LogEntryManager
from auditlog.registry import auditlog
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import formats, timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from audit.tracked import scope_of


@dataclass(frozen=True)
class FieldChange:
    """One field of an entry: its value before and after, and how to show it (the new value
    of a created object, the last value of a deleted one, "old → new" for a change)."""

    label: str
    old: str
    new: str
    text: str


EMPTY = "—"
# Fields every entry of an agency would repeat: the agency itself.
NOT_SHOWN = {"agency"}


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
        """Record a change made without a save (a queryset update): {field: (old, new)}.
        Fields the trail does not track for the model are left out; nothing is recorded
        when no tracked field changed."""
        untracked = set(auditlog.get_model_fields(type(instance))["exclude_fields"])
        recorded = {
            name: [str(old), str(new)]
            for name, (old, new) in changes.items()
            if name not in untracked
        }
        if recorded:
            self.log_create(instance, action=AbstractLogEntry.Action.UPDATE, changes=recorded)

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
            if name in NOT_SHOWN or (field and (not field.concrete or field.primary_key)):
                continue  # the agency, the id, and reverse relations auditlog lists on creation
            label = str(getattr(field, "verbose_name", name))
            if isinstance(values, dict):  # a many-to-many change: objects added or removed
                objects = ", ".join(values.get("objects", []))
                if values.get("operation") == "add":
                    changes.append(FieldChange(label, EMPTY, objects, f"+ {objects}"))
                else:
                    changes.append(FieldChange(label, objects, EMPTY, f"− {objects}"))
                continue
            old, new = (_shown(field, value) for value in (list(values) + ["", ""])[:2])
            if old == new == EMPTY:
                continue
            if self.action == self.Action.CREATE:
                text = new
            elif self.action == self.Action.DELETE:
                text = old
            else:
                text = f"{old} → {new}"
            changes.append(FieldChange(label, old, new, text))
        return changes


def _shown(field: models.Field | None, value: str | None) -> str:
    """A recorded value (auditlog stores strings) as the app shows it elsewhere."""
    if value in (None, "None", ""):
        return EMPTY
    choices = dict(getattr(field, "choices", None) or [])
    if value in choices:
        return str(choices[value])
    if isinstance(field, models.DateTimeField) and (moment := parse_datetime(value)):
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, UTC)
        return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
    if isinstance(field, models.DateField) and (day := parse_date(value)):
        return formats.date_format(day, "SHORT_DATE_FORMAT")
    return value
