from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "fakturoid.sandbox"
    label = "sandbox"
    verbose_name = "Fakturoid sandbox"
