from django.urls import path

from fakturoid import views

app_name = "fakturoid"
urlpatterns = [
    path("clients/<int:pk>/match/", views.match, name="match"),
    path("clients/<int:pk>/link/", views.link, name="link"),
    path("clients/<int:pk>/create-contact/", views.create_subject, name="create_subject"),
    path("match-all/", views.match_all, name="match_all"),
    path(
        "clients/<int:pk>/invoice/<str:month>/",
        views.invoice_preview,
        name="invoice_preview",
    ),
    path("clients/<int:pk>/invoice/", views.invoice_create, name="invoice_create"),
    path("invoices/refresh/", views.refresh_statuses, name="refresh_statuses"),
    path("invoices/<int:pk>/pdf/", views.invoice_pdf, name="invoice_pdf"),
]
