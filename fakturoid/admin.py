from django.contrib import admin

from fakturoid.models import Invoice


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
