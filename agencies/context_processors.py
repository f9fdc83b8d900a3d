from django.http import HttpRequest

from agencies.models import Agency


def current_agency(request: HttpRequest) -> dict:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "current_agency": membership.agency,
        "current_membership": membership,
        "user_agencies": Agency.objects.for_user(request.user).order_by("name"),
    }
