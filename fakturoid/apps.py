from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FakturoidConfig(AppConfig):
    name = "fakturoid"
    verbose_name = _("Fakturoid")

    def ready(self) -> None:
        # clients does not import fakturoid (fakturoid builds on clients): plug the check of a
        # typed Fakturoid Client ID into the client form from this side.
        from clients.forms import set_subject_id_check
        from fakturoid.forms import validate_subject_id

        set_subject_id_check(validate_subject_id)
