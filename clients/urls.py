from django.urls import path

from clients import views

app_name = "clients"
urlpatterns = [
    path("", views.client_list, name="list"),
    path("clients/new/", views.client_create, name="create"),
    path("clients/export.csv", views.client_export, {"file_format": "csv"}, name="export_csv"),
    path("clients/export.xlsx", views.client_export, {"file_format": "xlsx"}, name="export_xlsx"),
    path("clients/<int:pk>/", views.client_detail, name="detail"),
    path("clients/<int:pk>/edit/", views.client_edit, name="edit"),
    path("clients/<int:pk>/delete/", views.client_delete, name="delete"),
]
