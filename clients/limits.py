"""How big one client form may get, and how many fields its POST then carries.

Plain Python without models, so that `config/settings.py` can derive
DATA_UPLOAD_MAX_NUMBER_FIELDS from it: a client at the caps must still be savable.
"""

# Caps on rows per form: generous for any real client, and a bound on the work one POST can
# ask for (Django would otherwise build up to 1,000 forms per formset, nested). The edit page
# renders every row: at these caps it is about 900 rows and takes a few seconds to render.
MAX_CONTACTS = 50
MAX_PROJECTS = 20
MAX_ITEMS_PER_PROJECT = 40

# Fields each form posts; a formset row adds its id, its parent's key and DELETE, a formset
# its four management fields. tests/test_clients_form_limits.py checks them against the forms.
CLIENT_FIELDS = 12
CONTACT_FIELDS = 4
PROJECT_FIELDS = 4
ITEM_FIELDS = 7
ROW_EXTRA_FIELDS = 3
MANAGEMENT_FIELDS = 4
PAGE_FIELDS = 2  # the CSRF token and the "save and continue" button

ITEMS_FORMSET_FIELDS = MANAGEMENT_FIELDS + MAX_ITEMS_PER_PROJECT * (ITEM_FIELDS + ROW_EXTRA_FIELDS)
CLIENT_FORM_MAX_FIELDS = (
    PAGE_FIELDS
    + CLIENT_FIELDS
    + MANAGEMENT_FIELDS
    + MAX_CONTACTS * (CONTACT_FIELDS + ROW_EXTRA_FIELDS)
    + MANAGEMENT_FIELDS
    + MAX_PROJECTS * (PROJECT_FIELDS + ROW_EXTRA_FIELDS + ITEMS_FORMSET_FIELDS)
)
