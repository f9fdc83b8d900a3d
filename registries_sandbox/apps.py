from django.apps import AppConfig


class RegistriesSandboxConfig(AppConfig):
    name = "registries_sandbox"
    verbose_name = "Stand-ins for ARES, VIES and ČNB rates"
