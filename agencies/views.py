from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordResetForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from agencies import invitations
from agencies.decorators import agency_required, owner_required
from agencies.forms import InviteForm, JoinForm, MembershipRoleForm
from agencies.middleware import SESSION_KEY
from agencies.models import Agency, Invitation, LastOwner, Membership


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
    """Settings → Members: the members, their roles, and the pending invitations."""
    agency = request.agency
    form = InviteForm(request.POST or None, agency=agency)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            invitations.invite(
                agency=agency, email=email, role=form.cleaned_data["role"], invited_by=request.user
            )
        except invitations.InvitationNotSent:
            form.add_error(
                "email", _("The invitation could not be sent: the mail server refused it.")
            )
        else:
            messages.success(request, _("An invitation was sent to %(email)s.") % {"email": email})
            return redirect("agencies:members")
    return render(
        request,
        "agencies/membership_list.html",
        {
            "form": form,
            "memberships": agency.memberships.select_related("user").order_by("user__username"),
            "invitations": agency.invitations.pending().select_related("invited_by"),
            "roles": Membership.Role.choices,
            "invitation_days": Invitation.VALID_FOR.days,
        },
    )


@require_POST
@agency_required
@owner_required
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(request.agency.invitations.pending(), pk=pk)
    invitation.delete()
    messages.success(
        request, _("The invitation of %(email)s was revoked.") % {"email": invitation.email}
    )
    return redirect("agencies:members")


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, whose mailed link points at SITE_URL, not the Host header."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        self.extra_email_context = {"site_url": settings.SITE_URL}
        return super().form_valid(form)


@login_not_required
def join(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: join with the signed-in account, by logging in, or a new one."""
    invitation = invitations.find_invitation(token)
    if invitation is None or not invitation.is_pending:
        return render(request, "agencies/join_invalid.html", status=404)
    context = {"invitation": invitation, "agency": invitation.agency}
    if request.user.is_authenticated:
        if not invitation.is_for(request.user):
            return render(
                request, "agencies/join.html", {**context, "wrong_account": True}, status=403
            )
        if request.method == "POST":
            return _accept(request, invitation, user=request.user)
        return render(request, "agencies/join.html", context)
    if invitations.invited_email_has_account(invitation):
        return render(request, "agencies/join.html", {**context, "log_in": True})
    form = JoinForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.join_with_new_account(
                invitation=invitation,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
            )
        except invitations.InvitationUnusable:
            return render(request, "agencies/join_invalid.html", status=404)
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return _joined(request, invitation)
    return render(request, "agencies/join.html", {**context, "form": form})


def _accept(request: HttpRequest, invitation: Invitation, *, user) -> HttpResponse:  # noqa: ANN001
    try:
        invitations.accept(invitation=invitation, user=user)
    except invitations.InvitationUnusable:
        return render(request, "agencies/join_invalid.html", status=404)
    return _joined(request, invitation)


def _joined(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    request.session[SESSION_KEY] = invitation.agency_id
    messages.success(request, _("Welcome to %(agency)s.") % {"agency": invitation.agency.name})
    return redirect("clients:list")


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
