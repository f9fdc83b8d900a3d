"""HTML pages standing for Fakturoid's own web interface (the API's `html_url` links).

No login: in the real world these are Fakturoid's pages, not ours. The invoice page's buttons
live in `page_actions`. Listing pages run the overdue check first (Fakturoid's daily job).
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from fakturoid_sandbox import webhooks
from fakturoid_sandbox.models import Account, Invoice, WebhookDelivery

RECENT_DELIVERIES = 100


def _account(slug: str) -> Account:
    return get_object_or_404(Account, slug=slug)


def _invoice(account: Account, **lookup: object) -> Invoice:
    queryset = account.invoices.select_related("account", "subject").prefetch_related(
        "lines", "payments", "messages"
    )
    return get_object_or_404(queryset, **lookup)


@login_not_required
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "sandbox/index.html", {"accounts": Account.objects.all()})


@login_not_required
@require_safe
def account_home(request: HttpRequest, slug: str) -> HttpResponse:
    return redirect("sandbox:invoices_page", slug=_account(slug).slug)


@login_not_required
@require_safe
def invoice_list(request: HttpRequest, slug: str) -> HttpResponse:
    account = _account(slug)
    webhooks.notice_overdue(account=account)
    invoices = account.invoices.order_by("-issued_on", "-id")
    return render(request, "sandbox/invoice_list.html", {"account": account, "invoices": invoices})


@login_not_required
@require_safe
def invoice_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = _account(slug)
    webhooks.notice_overdue(account=account)
    invoice = _invoice(account, pk=pk)
    return render(request, "sandbox/invoice_detail.html", {"account": account, "invoice": invoice})


@login_not_required
@require_safe
def public_invoice(request: HttpRequest, slug: str, token: str, number: str) -> HttpResponse:
    account = _account(slug)
    invoice = _invoice(account, token=token, number=number, deleted_at__isnull=True)
    return render(
        request,
        "sandbox/invoice_detail.html",
        {"account": account, "invoice": invoice, "public": True},
    )


@login_not_required
@require_safe
def subject_list(request: HttpRequest, slug: str) -> HttpResponse:
    account = _account(slug)
    return render(
        request,
        "sandbox/subject_list.html",
        {"account": account, "subjects": account.subjects.order_by("name", "id")},
    )


@login_not_required
@require_safe
def subject_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = _account(slug)
    subject = get_object_or_404(account.subjects, pk=pk)
    return render(
        request,
        "sandbox/subject_detail.html",
        {
            "account": account,
            "subject": subject,
            "invoices": subject.invoices.order_by("-issued_on", "-id"),
        },
    )


@login_not_required
@require_safe
def bank_accounts(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "sandbox/bank_accounts.html", {"account": _account(slug)})


@login_not_required
@require_safe
def webhook_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The account's webhooks and their deliveries: failed ones first, then the latest."""
    account = _account(slug)
    deliveries = WebhookDelivery.objects.filter(webhook__account=account).select_related("webhook")
    return render(
        request,
        "sandbox/webhook_list.html",
        {
            "account": account,
            "webhooks": account.webhooks_set.select_related("credential"),
            "failed": deliveries.filter(state=WebhookDelivery.State.FAILED).order_by("-id"),
            "recent": deliveries.order_by("-id")[:RECENT_DELIVERIES],
        },
    )
