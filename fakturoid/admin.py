from django.contrib import admin

from fakturoid.models import ApiCall, Invoice


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = [
        "custom_id",
        "client",
        "period",
        "state",
        "number",
        "status",
        "total",
        "currency",
    ]
    list_filter = ["state", "status", "agency"]
    search_fields = ["custom_id", "number", "client__name"]
    readonly_fields = ["custom_id", "lines", "created_by", "created_at", "updated_at"]
    raw_id_fields = ["client", "agency"]


@admin.register(ApiCall)
class ApiCallAdmin(admin.ModelAdmin):
    """The integration log: read-only, written by fakturoid.client."""

    list_display = [
        "created_at",
        "agency",
        "method",
        "path",
        "status",
        "duration_ms",
        "rate_limit_remaining",
        "error",
    ]
    list_filter = ["method", "status", "agency"]
    search_fields = ["path", "error"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
