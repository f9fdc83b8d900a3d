from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, Membership

User = get_user_model()


class AddMemberForm(forms.Form):
    """Adds an existing user (by user name or e-mail) or creates a new one with a password."""

    username = forms.CharField(label=_("User name or e-mail"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)
    password = forms.CharField(
        label=_("Password for a new user"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Only needed when the user does not exist yet."),
    )

    def __init__(self, *args, agency: Agency, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.agency = agency
        self.user = None

    def clean(self) -> dict:
        data = super().clean()
        name = data.get("username", "").strip()
        if not name:
            return data
        self.user = (
            User.objects.filter(username__iexact=name).first()
            or User.objects.filter(email__iexact=name).order_by("pk").first()
        )
        if self.user is None:
            password = data.get("password")
            if not password:
                self.add_error(
                    "password",
                    _("No user %(name)s exists yet: give them a password.") % {"name": name},
                )
            else:
                candidate = User(username=name, email=name if "@" in name else "")
                try:
                    validate_password(password, candidate)
                except forms.ValidationError as error:
                    self.add_error("password", error)
        elif Membership.objects.filter(user=self.user, agency=self.agency).exists():
            self.add_error("username", _("%(name)s is already a member.") % {"name": name})
        return data

    def save(self) -> Membership:
        if self.user is None:
            name = self.cleaned_data["username"].strip()
            self.user = User.objects.create_user(
                username=name,
                email=name if "@" in name else "",
                password=self.cleaned_data["password"],
            )
        return Membership.objects.create(
            user=self.user, agency=self.agency, role=self.cleaned_data["role"]
        )


class MembershipRoleForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]
