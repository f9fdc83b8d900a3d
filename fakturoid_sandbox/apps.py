from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "fakturoid_sandbox"
    label = "sandbox"
    verbose_name = "Fakturoid sandbox"
