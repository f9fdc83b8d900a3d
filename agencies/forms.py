from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from agencies.models import Agency, Membership

User = get_user_model()


class InviteForm(forms.Form):
    """An owner invites an e-mail address with a role. It says nothing about whether the
    address has an account here: that is none of the inviting agency's business."""

    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(
        label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.MEMBER
    )

    def __init__(self, *args, agency: Agency, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.agency = agency

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"].strip())
        # Members and their e-mails are listed on the same page: this reveals nothing new.
        if self.agency.memberships.filter(user__email__iexact=email).exists():
            raise forms.ValidationError(
                _("%(email)s is already a member."), params={"email": email}, code="member"
            )
        return email


class JoinForm(UserCreationForm):
    """A new account for the invited person; the e-mail is the invited one, not typed."""

    def __init__(self, *args, email: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Set before validation, so that the password may not resemble the e-mail either.
        self.instance.email = email
        self.fields["username"].help_text = _("Letters, digits and @/./+/-/_ only.")


class MembershipRoleForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]
