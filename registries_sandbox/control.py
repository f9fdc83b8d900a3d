"""Switches and data of the stand-ins, for tests and demos.

    update_switches("ares", fail_next={"status": 503, "count": 1})
    update_switches("vies", malformed_next=1)     # the next answer is garbage (200)
    update_switches("cnb", delay_ms=5000)         # every answer waits 5 s (at most 30 s)
    put_company("12345678", name="Nová firma s.r.o.", street="Dlouhá", ...)

Also over HTTP: `GET/POST /sandbox/registries/control/<service>.json` with the same names.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from registries_sandbox.models import Company, Service, Switch

MAX_DELAY_MS = 30_000


class SwitchError(ValueError):
    """A switch was given an unknown name or a value it cannot take."""


@dataclass(frozen=True)
class Misbehaviour:
    """What one request of a stand-in should do instead of answering normally."""

    fail_status: int | None
    malformed: bool
    delay_ms: int


def get_switches(service: str) -> dict[str, Any]:
    switch = Switch.objects.filter(service=service).first() or Switch(service=service)
    fail = None
    if switch.fail_status and switch.fail_count:
        fail = {"status": switch.fail_status, "count": switch.fail_count}
    return {
        "fail_next": fail,
        "malformed_next": switch.malformed_count,
        "delay_ms": switch.delay_ms,
    }


def _count(name: str, value: Any, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SwitchError(f"{name} must be an integer of at least 0")
    if maximum is not None and value > maximum:
        raise SwitchError(f"{name} must be at most {maximum}")
    return value


def update_switches(service: str, **changes: Any) -> dict[str, Any]:
    """Set the named switches of `service` (ares, vies, cnb); returns all of them."""
    if service not in Service.values:
        raise SwitchError(f"unknown service {service!r}")
    with transaction.atomic():
        switch, _created = Switch.objects.select_for_update().get_or_create(service=service)
        for name, value in changes.items():
            if name == "fail_next":
                if value is None:
                    switch.fail_status, switch.fail_count = None, 0
                    continue
                if not isinstance(value, dict) or set(value) - {"status", "count"}:
                    raise SwitchError('fail_next must be null or {"status": int, "count": int}')
                status = _count("fail_next.status", value.get("status", 500), 599)
                if status < 400:
                    raise SwitchError("fail_next.status must be between 400 and 599")
                switch.fail_status = status
                switch.fail_count = _count("fail_next.count", value.get("count", 1))
            elif name == "malformed_next":
                switch.malformed_count = _count(name, value)
            elif name == "delay_ms":
                switch.delay_ms = _count(name, value, MAX_DELAY_MS)
            else:
                raise SwitchError(f"unknown switch {name!r}")
        switch.save()
    return get_switches(service)


def reset_switches() -> None:
    """Every stand-in behaves again."""
    Switch.objects.all().delete()


def take_misbehaviour(service: str) -> Misbehaviour:
    """Consume one request's worth of the service's switches."""
    with transaction.atomic():
        switch = Switch.objects.select_for_update().filter(service=service).first()
        if switch is None:
            return Misbehaviour(None, False, 0)
        fail_status = None
        malformed = False
        if switch.fail_status and switch.fail_count:
            fail_status = switch.fail_status
            switch.fail_count -= 1
        elif switch.malformed_count:
            malformed = True
            switch.malformed_count -= 1
        switch.save(update_fields=["fail_count", "malformed_count"])
        return Misbehaviour(fail_status, malformed, switch.delay_ms)


def put_company(ico: str, **fields: Any) -> Company:
    """Add a company to the ARES stand-in, or change one (built-in ones too)."""
    company, _created = Company.objects.update_or_create(ico=ico, defaults=fields)
    return company
