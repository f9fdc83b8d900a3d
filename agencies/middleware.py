from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from agencies.models import Membership

SESSION_KEY = "current_agency_id"


def current_membership(request: HttpRequest) -> Membership | None:
    """The user's membership in the agency chosen in the session, else their first one."""
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=user).select_related("agency")
    chosen = request.session.get(SESSION_KEY)
    membership = memberships.filter(agency_id=chosen).first() if chosen is not None else None
    if membership is None:
        membership = memberships.order_by("agency__name", "agency_id").first()
        if membership is not None:
            request.session[SESSION_KEY] = membership.agency_id
    return membership


class CurrentAgencyMiddleware:
    """Sets `request.membership` and `request.agency`: the agency every page works inside.

    Both are None for anonymous users and for users who belong to no agency.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = current_membership(request)
        request.agency = request.membership.agency if request.membership else None
        return self.get_response(request)
