from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

urlpatterns = [
    path("", include("clients.urls")),
    path("agency/", include("agencies.urls")),
    path("", include("fakturoid.urls")),
    path("registries/", include("registries.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]

if settings.FAKTUROID_SANDBOX:
    urlpatterns.append(path("sandbox/fakturoid/", include("fakturoid_sandbox.urls")))
    urlpatterns.append(path("sandbox/", include("registries_sandbox.urls")))
