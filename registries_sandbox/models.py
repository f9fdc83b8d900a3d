"""The stand-ins' state: companies added to ARES, and each service's failure switches.

Nothing here imports the rest of the project: the stand-ins play remote services.
"""

from django.db import models


class Service(models.TextChoices):
    ARES = "ares", "ARES"
    VIES = "vies", "VIES"
    CNB = "cnb", "ČNB"


class Company(models.Model):
    """A company added to (or changed in) the ARES stand-in; wins over the built-in data."""

    ico = models.CharField(max_length=8, primary_key=True)
    name = models.CharField(max_length=255)
    street = models.CharField(max_length=255, blank=True)
    descriptive_no = models.PositiveIntegerField(null=True, blank=True)
    orientation_no = models.CharField(max_length=10, blank=True)
    city = models.CharField(max_length=255)
    district = models.CharField(max_length=255, blank=True)
    part = models.CharField(max_length=255, blank=True)
    zip = models.CharField(max_length=5)
    vat_payer = models.BooleanField(default=True)
    dissolved_on = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=2, default="CZ")

    def __str__(self) -> str:
        return f"{self.name} ({self.ico})"

    @property
    def vat_no(self) -> str:
        return f"CZ{self.ico}" if self.vat_payer else ""


class Switch(models.Model):
    """How a stand-in misbehaves: the next `fail_count` requests answer `fail_status`, the
    next `malformed_count` answer garbage with 200, every request waits `delay_ms` first."""

    service = models.CharField(max_length=4, choices=Service, primary_key=True)
    fail_status = models.PositiveSmallIntegerField(null=True, blank=True)
    fail_count = models.PositiveIntegerField(default=0)
    malformed_count = models.PositiveIntegerField(default=0)
    delay_ms = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.service
