from django.urls import path

from registries import views

app_name = "registries"
urlpatterns = [
    path("clients/new/ares/", views.ares_prefill, name="ares_prefill"),
    path("clients/<int:pk>/ares/", views.ares_prefill, name="ares_prefill"),
    path("clients/<int:pk>/vies/", views.vies_check, name="vies_check"),
    path("ares/check-all/", views.ares_check_all, name="ares_check_all"),
]
