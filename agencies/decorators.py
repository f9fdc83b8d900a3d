from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
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
    """Only owners of the current agency may use the view; others get a 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.membership is None or not request.membership.is_owner:
            raise Http404("Only owners of the agency can open this page.")
        return view(request, *args, **kwargs)

    return wrapper
