from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Activity"

    def ready(self) -> None:
        from audit.tracked import register_tracked_models

        register_tracked_models()
