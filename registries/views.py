"""Pages and buttons that use the public registers: "Fill from ARES" on the client form,
"Check all clients against ARES", "Check VAT number" (VIES)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from agencies.decorators import agency_required
from clients.forms import ClientEditor
from clients.models import Client
from clients.validators import normalize_ico, validate_ico
from registries import services
from registries.ares import AresError
from registries.vies import ViesError

PROPOSAL_PREFIX = "ares-"


def _client(request: HttpRequest, pk: int | None) -> Client | None:
    if pk is None:
        return None
    return get_object_or_404(Client.objects.for_agency(request.agency), pk=pk)


def _as_typed(editor: ClientEditor) -> ClientEditor:
    """Show the posted form as the user typed it, without validating it: a half-filled form
    must not be flagged (nor its Fakturoid ID checked with Fakturoid) just because the user
    asked ARES for the company's details."""
    formsets = [editor.contacts, editor.projects]
    formsets += [form.items for form in editor.projects.forms]
    for formset in formsets:
        formset._errors = [ErrorDict() for _form in formset.forms]
        formset._non_form_errors = formset.error_class()
        for form in formset.forms:
            form._errors = ErrorDict()
    editor.form._errors = ErrorDict()
    return editor


def _ico(data: QueryDict) -> tuple[str, str]:
    """The typed IČO, normalised, and what is wrong with it ("" when nothing)."""
    ico = normalize_ico(data.get("registration_no", ""))
    if not ico:
        return ico, _("Type the IČO first, then press “Fill from ARES”.")
    try:
        validate_ico(ico)
    except ValidationError as error:
        return ico, " ".join(error.messages)
    return ico, ""


@require_POST
@agency_required
def ares_prefill(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """ "Fill from ARES" on the client form: nothing is saved.

    The first POST (the button next to IČO) shows the form as typed with what ARES would
    change; the second (`apply`) puts ARES's values into the form for the user to check and
    save. Asked by the page's script (`X-Requested-With: fetch`), only the proposal is sent.
    """
    client = _client(request, pk)
    data = request.POST.copy()
    # Saving the re-rendered form goes to the client form's own view, not back here.
    form_action = reverse("clients:edit", args=[pk]) if pk else reverse("clients:create")
    context: dict = {"client": client, "form_action": form_action}
    if "apply" in data:
        for field in services.ARES_FIELDS:
            if PROPOSAL_PREFIX + field in data:
                data[field] = data[PROPOSAL_PREFIX + field]
        messages.info(request, _("Filled in from ARES. Check the details and save."))
    else:
        ico, problem = _ico(data)
        context["ares_error"] = problem
        if not problem:
            try:
                current = {field: data.get(field, "") for field in services.ARES_FIELDS}
                context["ares"] = services.prefill_from_ares(ico=ico, current=current)
            except AresError as error:
                context["ares_error"] = error.message
    if request.headers.get("X-Requested-With") == "fetch":
        return HttpResponse(render_to_string("registries/_ares_proposal.html", context, request))
    editor = _as_typed(ClientEditor(data, agency=request.agency, client=client))
    return render(request, "clients/client_form.html", {**context, "editor": editor})


@require_http_methods(["GET", "POST"])
@agency_required
def ares_check_all(request: HttpRequest) -> HttpResponse:
    """ "Check all clients against ARES": GET explains, POST compares and lists differences."""
    report = None
    if request.method == "POST":
        report = services.check_all_clients_against_ares(agency=request.agency)
    return render(request, "registries/ares_check_all.html", {"report": report})


@require_POST
@agency_required
def vies_check(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Check VAT number": ask VIES about the client's DIČ and store the answer."""
    client = _client(request, pk)
    try:
        status = services.check_vat_number(client=client)
    except ViesError as error:
        messages.error(request, error.message)
    else:
        values = {"vat_no": client.vat_no, "date": date_format(client.vies_checked_at.date())}
        if status == Client.ViesStatus.VALID:
            messages.success(request, _("VIES confirms %(vat_no)s as valid (%(date)s).") % values)
        else:
            messages.warning(request, _("VIES does not know %(vat_no)s (%(date)s).") % values)
    target = "clients:edit" if request.POST.get("next") == "edit" else "clients:detail"
    return redirect(target, client.pk)
