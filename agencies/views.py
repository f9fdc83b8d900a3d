from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies.decorators import agency_required, owner_required
from agencies.forms import AddMemberForm, MembershipRoleForm
from agencies.middleware import SESSION_KEY
from agencies.models import Agency, LastOwner, Membership


@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    """Make another of the user's agencies the current one (foreign or malformed: 404)."""
    agency_id = request.POST.get("agency", "")
    if not (agency_id.isascii() and agency_id.isdigit()):
        raise Http404("No such agency.")
    agency = get_object_or_404(Agency.objects.for_user(request.user), pk=agency_id)
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
    form = MembershipRoleForm(request.POST, instance=membership)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
        return redirect("agencies:members")
    try:
        membership.change_role(form.cleaned_data["role"])
    except LastOwner:
        messages.error(request, _("An agency needs at least one owner."))
    except Membership.DoesNotExist as gone:
        raise Http404("The member was removed meanwhile.") from gone
    else:
        messages.success(
            request, _("The role of %(user)s was changed.") % {"user": membership.user}
        )
    return redirect("agencies:members")


@require_POST
@agency_required
@owner_required
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(request.agency.memberships, pk=pk)
    try:
        membership.remove()
    except LastOwner:
        messages.error(request, _("An agency needs at least one owner."))
    except Membership.DoesNotExist as gone:
        raise Http404("The member was removed meanwhile.") from gone
    else:
        messages.success(request, _("%(user)s was removed.") % {"user": membership.user})
    return redirect("agencies:members")
