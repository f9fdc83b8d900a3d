from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def agency_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view works inside the current agency; a user without one is told to get invited."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.agency is None:
            return render(request, "agencies/no_agency.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def owner_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only owners of the current agency may use the view; a member is told so (403), and
    nothing else happens."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.agency is None:
            return render(request, "agencies/no_agency.html", status=403)
        if request.membership is None or not request.membership.is_owner:
            return render(request, "agencies/owners_only.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
