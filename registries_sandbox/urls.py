"""Mounted at /sandbox/ only while settings.FAKTUROID_SANDBOX is true, next to the Fakturoid
sandbox; the paths end like the real services' so only the base URL settings differ."""

from django.urls import path

from registries_sandbox import views

app_name = "registries_sandbox"
urlpatterns = [
    path(
        "ares/ekonomicke-subjekty-v-be/rest/ekonomicke-subjekty/<str:ico>",
        views.ares_subject,
        name="ares_subject",
    ),
    path("vies/rest-api/check-vat-number", views.vies_check, name="vies_check"),
    path("cnb/denni_kurz.txt", views.cnb_daily_rates, name="cnb_daily_rates"),
    path("registries/control/<str:service>.json", views.switches, name="control"),
]
