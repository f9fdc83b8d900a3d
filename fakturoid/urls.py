from django.urls import path

from fakturoid import invoice_views, run_views, views, webhook_views

app_name = "fakturoid"
# Included at the site root: Settings → Fakturoid and the integration log keep the addresses
# they had when they were part of the agency's settings.
urlpatterns = [
    path("fakturoid/clients/<int:pk>/match/", views.match, name="match"),
    path("fakturoid/clients/<int:pk>/link/", views.link, name="link"),
    path("fakturoid/clients/<int:pk>/unlink/", views.unlink, name="unlink"),
    path("fakturoid/clients/<int:pk>/create-contact/", views.create_subject, name="create_subject"),
    path("fakturoid/match-all/", views.match_all, name="match_all"),
    path("fakturoid/match-all/link/", views.link_suggestions, name="link_suggestions"),
    path(
        "fakturoid/clients/<int:pk>/invoice/<str:month>/",
        views.invoice_preview,
        name="invoice_preview",
    ),
    path("fakturoid/clients/<int:pk>/invoice/", views.invoice_create, name="invoice_create"),
    path("fakturoid/invoices/<int:pk>/reissue/", views.invoice_reissue, name="invoice_reissue"),
    path("fakturoid/invoices/", invoice_views.invoice_list, name="invoices"),
    path("fakturoid/invoices/refresh/", invoice_views.refresh_statuses, name="refresh_statuses"),
    path(
        "fakturoid/invoices/<int:pk>/payments/",
        invoice_views.payment_create,
        name="payment_create",
    ),
    path(
        "fakturoid/invoices/<int:pk>/payments/<int:payment_id>/delete/",
        invoice_views.payment_delete,
        name="payment_delete",
    ),
    path("fakturoid/invoices/<int:pk>/mark-sent/", invoice_views.mark_sent, name="mark_sent"),
    path("fakturoid/invoices/<int:pk>/send/", invoice_views.send_email, name="send_email"),
    path("fakturoid/invoices/send/", invoice_views.send_many, name="send_many"),
    path("fakturoid/dispatches/<int:pk>/", invoice_views.dispatch_detail, name="dispatch"),
    path(
        "fakturoid/webhooks/<str:receiver_id>/",
        webhook_views.receiver,
        name="webhook_receiver",
    ),
    path(
        "fakturoid/invoices/export.csv",
        views.invoice_export,
        {"file_format": "csv"},
        name="export_csv",
    ),
    path(
        "fakturoid/invoices/export.xlsx",
        views.invoice_export,
        {"file_format": "xlsx"},
        name="export_xlsx",
    ),
    path("fakturoid/invoices/<int:pk>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("invoicing/month-end/", run_views.run_review, name="run_review"),
    path("invoicing/month-end/start/", run_views.run_start, name="run_start"),
    path("invoicing/runs/", run_views.run_list, name="run_list"),
    path("invoicing/runs/<int:pk>/", run_views.run_detail, name="run_detail"),
    path("invoicing/runs/<int:pk>/progress.json", run_views.run_progress, name="run_progress"),
    path("invoicing/runs/<int:pk>/cancel/", run_views.run_cancel, name="run_cancel"),
    path("invoicing/runs/<int:pk>/resume/", run_views.run_resume, name="run_resume"),
    path("invoicing/runs/<int:pk>/retry/", run_views.run_retry, name="run_retry"),
    path("agency/settings/fakturoid/", views.fakturoid_settings, name="settings"),
    path("agency/settings/fakturoid/verify/", views.fakturoid_verify, name="verify"),
    path("agency/settings/fakturoid/disconnect/", views.fakturoid_disconnect, name="disconnect"),
    path(
        "agency/settings/fakturoid/updates/",
        webhook_views.receive_updates,
        name="receive_updates",
    ),
    path(
        "agency/settings/fakturoid/updates/stop/",
        webhook_views.stop_updates,
        name="stop_updates",
    ),
    path("agency/settings/integration-log/", views.integration_log, name="integration_log"),
]
