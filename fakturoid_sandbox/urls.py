"""Mounted at /sandbox/fakturoid/ only while settings.FAKTUROID_SANDBOX is true."""

from django.urls import path, re_path

from fakturoid_sandbox import api, api_webhooks, page_actions, pages

app_name = "sandbox"

ACCOUNT = "api/v3/accounts/<slug:slug>"

urlpatterns = [
    # Fakturoid API v3
    path("api/v3/oauth/token", api.token, name="api_token"),
    path("api/v3/oauth/token.json", api.token),
    path("api/v3/user.json", api.user, name="api_user"),
    path(f"{ACCOUNT}/account.json", api.account, name="api_account"),
    path(f"{ACCOUNT}/subjects.json", api.subjects, name="api_subjects"),
    path(f"{ACCOUNT}/subjects/search.json", api.subject_search, name="api_subject_search"),
    path(f"{ACCOUNT}/subjects/<int:pk>.json", api.subject, name="api_subject"),
    path(f"{ACCOUNT}/invoices.json", api.invoices, name="api_invoices"),
    path(f"{ACCOUNT}/invoices/<int:pk>.json", api.invoice, name="api_invoice"),
    path(f"{ACCOUNT}/invoices/<int:pk>/fire.json", api.invoice_fire, name="api_invoice_fire"),
    path(
        f"{ACCOUNT}/invoices/<int:pk>/payments.json",
        api.invoice_payments,
        name="api_invoice_payments",
    ),
    path(
        f"{ACCOUNT}/invoices/<int:pk>/payments/<int:payment_pk>.json",
        api.invoice_payment,
        name="api_invoice_payment",
    ),
    path(
        f"{ACCOUNT}/invoices/<int:pk>/message.json",
        api.invoice_message,
        name="api_invoice_message",
    ),
    path(
        f"{ACCOUNT}/invoices/<int:pk>/download.pdf",
        api.invoice_pdf_download,
        name="api_invoice_pdf",
    ),
    path(f"{ACCOUNT}/webhooks.json", api_webhooks.webhook_list, name="api_webhooks"),
    path(f"{ACCOUNT}/webhooks/<int:pk>.json", api_webhooks.webhook_detail, name="api_webhook"),
    path(
        f"{ACCOUNT}/webhooks/<uuid:uuid>/failed_deliveries.json",
        api_webhooks.failed_deliveries,
        name="api_failed_deliveries",
    ),
    re_path(r"^api/(?P<path>.*)$", api.unknown),
    # The sandbox's switches (not part of Fakturoid)
    path("control/<slug:slug>.json", api.control_state, name="control"),
    # HTML pages standing for Fakturoid's own web interface
    path("", pages.index, name="index"),
    path("<slug:slug>/", pages.account_home, name="account_page"),
    path("<slug:slug>/invoices", pages.invoice_list, name="invoices_page"),
    path("<slug:slug>/invoices/<int:pk>", pages.invoice_detail, name="invoice_page"),
    path(
        "<slug:slug>/invoices/<int:pk>/<slug:action>",
        page_actions.invoice_action,
        name="invoice_action",
    ),
    path("<slug:slug>/subjects", pages.subject_list, name="subjects_page"),
    path("<slug:slug>/subjects/<int:pk>", pages.subject_detail, name="subject_page"),
    path("<slug:slug>/webhooks", pages.webhook_list, name="webhooks_page"),
    path("<slug:slug>/settings/bank_accounts", pages.bank_accounts, name="bank_accounts_page"),
    path("<slug:slug>/p/<str:token>/<str:number>", pages.public_invoice, name="public_invoice"),
]
