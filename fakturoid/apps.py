from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FakturoidConfig(AppConfig):
    name = "fakturoid"
    verbose_name = _("Fakturoid")
