from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.decorators import agency_required, owner_required
from agencies.forms import AddMemberForm, FakturoidSettingsForm, MembershipRoleForm
from agencies.middleware import SESSION_KEY
from agencies.models import Agency, FakturoidSettings, Membership
from fakturoid import services
from fakturoid.client import AuthenticationError, ConfigurationError, FakturoidError
from fakturoid.models import ApiCall


@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    """Make another of the user's agencies the current one (foreign agencies: 404)."""
    agency = get_object_or_404(Agency.objects.for_user(request.user), pk=request.POST.get("agency"))
    request.session[SESSION_KEY] = agency.pk
    messages.success(request, _("You now work in %(agency)s.") % {"agency": agency.name})
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "clients:list"
    return redirect(next_url)


@agency_required
@owner_required
def members(request: HttpRequest) -> HttpResponse:
    agency = request.agency
    form = AddMemberForm(request.POST or None, agency=agency)
    if request.method == "POST" and form.is_valid():
        membership = form.save()
        messages.success(request, _("%(user)s was added.") % {"user": membership.user})
        return redirect("agencies:members")
    memberships = agency.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "agencies/membership_list.html",
        {"form": form, "memberships": memberships, "roles": Membership.Role.choices},
    )


@require_POST
@agency_required
@owner_required
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(request.agency.memberships, pk=pk)
    was_owner = membership.is_owner
    form = MembershipRoleForm(request.POST, instance=membership)
    with transaction.atomic():
        if not form.is_valid():
            messages.error(request, _("Choose a valid role."))
        elif was_owner and _is_last_owner(membership, new_role=form.cleaned_data["role"]):
            messages.error(request, _("An agency needs at least one owner."))
        else:
            form.save()
            messages.success(
                request, _("The role of %(user)s was changed.") % {"user": membership.user}
            )
    return redirect("agencies:members")


@require_POST
@agency_required
@owner_required
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(request.agency.memberships, pk=pk)
    with transaction.atomic():
        if membership.is_owner and _is_last_owner(membership, new_role=None):
            messages.error(request, _("An agency needs at least one owner."))
        else:
            membership.delete()
            messages.success(request, _("%(user)s was removed.") % {"user": membership.user})
    return redirect("agencies:members")


def _is_last_owner(membership: Membership, *, new_role: str | None) -> bool:
    """Would taking the owner role from this (owner) membership leave the agency without one?"""
    if new_role == Membership.Role.OWNER:
        return False
    owners = Membership.objects.select_for_update().filter(
        agency=membership.agency, role=Membership.Role.OWNER
    )
    return owners.exclude(pk=membership.pk).count() == 0


@agency_required
@owner_required
def fakturoid_settings(request: HttpRequest) -> HttpResponse:
    """Settings → Fakturoid: save the credentials after checking them with Fakturoid."""
    fakturoid = request.agency.fakturoid_settings or FakturoidSettings(agency=request.agency)
    form = FakturoidSettingsForm(request.POST or None, instance=fakturoid)
    if request.method == "POST" and form.is_valid():
        try:
            services.connect(fakturoid=form.instance, credentials_changed=form.credentials_changed)
        except services.SavedUnverified as error:
            messages.warning(
                request,
                _("Saved, but not verified: %(error)s Use “Verify now” when Fakturoid is back.")
                % {"error": error.message},
            )
            return redirect("agencies:fakturoid")
        except FakturoidError as error:
            field, message = _connection_error(error)
            form.add_error(field, message)
        else:
            messages.success(
                request,
                _("Connected to Fakturoid: %(name)s.") % {"name": form.instance.account_name},
            )
            return redirect("agencies:fakturoid")
    # The stored row, not form.instance: after a failed save that holds the unsaved input.
    fakturoid = FakturoidSettings.objects.filter(agency=request.agency).first()
    return render(
        request, "agencies/fakturoid_settings.html", {"form": form, "fakturoid": fakturoid}
    )


@require_POST
@agency_required
@owner_required
def fakturoid_verify(request: HttpRequest) -> HttpResponse:
    fakturoid = get_object_or_404(FakturoidSettings, agency=request.agency)
    if not fakturoid.is_configured:
        messages.error(request, _("Enter the Fakturoid credentials first."))
        return redirect("agencies:fakturoid")
    try:
        services.verify_connection(fakturoid=fakturoid)
    except FakturoidError as error:
        messages.error(request, services.explain(error))
    else:
        fakturoid.save()
        messages.success(
            request, _("Connected to Fakturoid: %(name)s.") % {"name": fakturoid.account_name}
        )
    return redirect("agencies:fakturoid")


@require_POST
@agency_required
@owner_required
def fakturoid_disconnect(request: HttpRequest) -> HttpResponse:
    fakturoid = get_object_or_404(FakturoidSettings, agency=request.agency)
    fakturoid.disconnect()
    messages.success(request, _("Fakturoid was disconnected; the credentials were removed."))
    return redirect("agencies:fakturoid")


def _connection_error(error: FakturoidError) -> tuple[str | None, str]:
    """Which field of Settings → Fakturoid a failed verification belongs to, and what to say."""
    if isinstance(error, AuthenticationError):
        return "api_client_secret", _(
            "Fakturoid does not accept this Client ID and Secret ID. Copy both again from "
            "Fakturoid → Settings → User account → API v3 credentials."
        )
    if isinstance(error, services.NoAccessToAccount):
        return "account_slug", error.message
    if isinstance(error, ConfigurationError):
        return "contact_email", error.message
    return None, services.explain(error)


API_CALLS_PER_PAGE = 100


@agency_required
@owner_required
def integration_log(request: HttpRequest) -> HttpResponse:
    """Settings → Integration log: the agency's requests to Fakturoid, newest first."""
    calls = ApiCall.objects.filter(agency=request.agency)
    errors_only = request.GET.get("errors") == "1"
    if errors_only:
        calls = calls.filter(Q(status__isnull=True) | Q(status__gte=400))
    page = Paginator(calls, API_CALLS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "agencies/integration_log.html",
        {"page": page, "calls": page.object_list, "errors_only": errors_only},
    )
