from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "fakturoid_sandbox"
    label = "sandbox"
    verbose_name = "Fakturoid sandbox"

    def ready(self) -> None:
        from fakturoid_sandbox import checks  # noqa: F401 - registers the deployment check
