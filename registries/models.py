"""Our copy of the Czech National Bank's daily rates, so a month-end run asks ČNB once."""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExchangeRate(models.Model):
    """ČNB's rate of `currency` that applies to `day`: the one published that day, or the last
    one before it (`published_on`, e.g. the Friday before a Sunday)."""

    day = models.DateField(_("day"))
    currency = models.CharField(_("currency"), max_length=3)
    published_on = models.DateField(_("published on"))
    quantity = models.PositiveIntegerField(_("quantity"))
    rate = models.DecimalField(_("rate"), max_digits=12, decimal_places=4)
    fetched_at = models.DateTimeField(_("fetched at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "currency"], name="unique_rate_per_day"),
        ]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")

    def __str__(self) -> str:
        return f"{self.quantity} {self.currency} = {self.rate} CZK ({self.published_on})"

    @property
    def per_unit(self) -> Decimal:
        """CZK for one unit of the currency (ČNB quotes e.g. JPY per 100)."""
        return self.rate / self.quantity
