from django.contrib import admin

from agencies.models import Agency, FakturoidSettings, Invitation, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "created_at"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "agency", "role", "created_at"]
    list_filter = ["role", "agency"]
    search_fields = ["user__username", "user__email", "agency__name"]
    autocomplete_fields = ["user", "agency"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are made and revoked by owners on their members page."""

    list_display = ["email", "agency", "role", "invited_by", "expires_at", "accepted_at"]
    list_filter = ["role", "agency"]
    search_fields = ["email", "agency__name"]
    fields = ["agency", "email", "role", "invited_by", "expires_at", "accepted_at", "accepted_by"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(FakturoidSettings)
class FakturoidSettingsAdmin(admin.ModelAdmin):
    """Secrets and tokens are neither shown nor editable here: owners set them on their page."""

    list_display = ["agency", "account_slug", "account_name", "vat_mode", "verified_at"]
    search_fields = ["agency__name", "account_slug", "account_name"]
    fields = [
        "agency",
        "account_slug",
        "due_days",
        "api_client_id",
        "contact_email",
        "default_period",
        "account_name",
        "vat_mode",
        "currency",
        "verified_at",
        "token_expires_at",
    ]
    readonly_fields = ["account_name", "vat_mode", "currency", "verified_at", "token_expires_at"]
