from django.contrib import admin

from clients.models import BillingItem, Client, ContactPerson, Label, Project


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "agency"]
    list_filter = ["agency"]
    search_fields = ["name", "agency__name"]
    raw_id_fields = ["agency"]


class ContactPersonInline(admin.TabularInline):
    model = ContactPerson
    extra = 0


class ProjectInline(admin.TabularInline):
    model = Project
    extra = 0
    show_change_link = True


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "registration_no",
        "vat_no",
        "email",
        "agency",
        "fakturoid_subject_id",
        "fakturoid_link_source",
    ]
    list_filter = ["agency", "fakturoid_link_source", "labels"]
    search_fields = ["name", "registration_no", "vat_no", "email"]
    raw_id_fields = ["agency"]
    filter_horizontal = ["labels"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ContactPersonInline, ProjectInline]


@admin.register(ContactPerson)
class ContactPersonAdmin(admin.ModelAdmin):
    list_display = ["name", "role", "email", "phone", "client"]
    search_fields = ["name", "email", "client__name"]
    raw_id_fields = ["client"]


class BillingItemInline(admin.TabularInline):
    model = BillingItem
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "client", "kind", "active"]
    list_filter = ["kind", "active", "client__agency"]
    search_fields = ["name", "url", "client__name"]
    raw_id_fields = ["client"]
    inlines = [BillingItemInline]


@admin.register(BillingItem)
class BillingItemAdmin(admin.ModelAdmin):
    list_display = ["description", "project", "amount", "vat_rate", "kind", "period_label"]
    list_filter = ["kind", "project__client__agency"]
    search_fields = ["description", "project__name", "project__client__name"]
    raw_id_fields = ["project"]
