"""HTML pages standing for Fakturoid's own web interface (the API's `html_url` links).

No login: in the real world these are Fakturoid's pages, not ours. Read-only.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from fakturoid_sandbox.models import Account, Invoice


def _account(slug: str) -> Account:
    return get_object_or_404(Account, slug=slug)


def _invoice(account: Account, **lookup: object) -> Invoice:
    queryset = account.invoices.select_related("account", "subject").prefetch_related(
        "lines", "payments"
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
    invoices = account.invoices.order_by("-issued_on", "-id")
    return render(request, "sandbox/invoice_list.html", {"account": account, "invoices": invoices})


@login_not_required
@require_safe
def invoice_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account = _account(slug)
    invoice = _invoice(account, pk=pk)
    return render(request, "sandbox/invoice_detail.html", {"account": account, "invoice": invoice})


@login_not_required
@require_safe
def public_invoice(request: HttpRequest, slug: str, token: str, number: str) -> HttpResponse:
    account = _account(slug)
    invoice = _invoice(account, token=token, number=number)
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
