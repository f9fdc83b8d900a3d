from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from agencies import views as agency_views

urlpatterns = [
    path("", include("clients.urls")),
    path("agency/", include("agencies.urls")),
    path("agency/activity/", include("audit.urls")),
    path("", include("fakturoid.urls")),
    path("registries/", include("registries.urls")),
    path("dashboard/", include("dashboard.urls")),
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
    # Password reset by e-mail; the links in the mails point at SITE_URL, not the Host header.
    path(
        "password/reset/",
        agency_views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # An invitation link: opened before the invited person has an account or is logged in.
    path("join/<str:token>/", agency_views.join, name="join"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]

if settings.FAKTUROID_SANDBOX:
    urlpatterns.append(path("sandbox/fakturoid/", include("fakturoid_sandbox.urls")))
    urlpatterns.append(path("sandbox/", include("registries_sandbox.urls")))
