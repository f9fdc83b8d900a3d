"""Settings → Integration log: the agency's requests to Fakturoid, for owners only."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from agencies.models import FakturoidSettings
from fakturoid.models import ApiCall
from tests.support import FAKTUROID_API as API

LOG_URL = "/agency/settings/integration-log/"
TOKEN = "log-token-5e6f7a8b9c0d1e2f"

pytestmark = pytest.mark.usefixtures("fakturoid_config")


def api_call(agency, path: str, *, status: int | None = 200, **fields) -> ApiCall:  # noqa: ANN001
    fields.setdefault("method", "GET")
    fields.setdefault("duration_ms", 42)
    return ApiCall.objects.create(agency=agency, path=path, status=status, **fields)


def test_it_lists_the_agencys_calls_newest_first(owner_http, agency):
    older = api_call(agency, "/user.json")
    newer = api_call(agency, "/accounts/acme/account.json", rate_limit_remaining=398)
    ApiCall.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=1))

    response = owner_http.get(LOG_URL)

    assert response.status_code == 200
    assert [call.pk for call in response.context["calls"]] == [newer.pk, older.pk]
    content = response.content.decode()
    assert content.index("/accounts/acme/account.json") < content.index("/user.json")
    assert ">398<" in content
    assert ">42<" in content


def test_it_shows_no_calls_of_other_agencies(owner_http, agency, other_agency):
    api_call(agency, "/accounts/ours/subjects.json")
    api_call(other_agency, "/accounts/theirs/subjects.json?custom_id=theirs-c1")

    content = owner_http.get(LOG_URL).content.decode()

    assert "/accounts/ours/subjects.json" in content
    assert "theirs" not in content


def test_it_is_for_owners_only(member_http, agency):
    api_call(agency, "/user.json")

    assert member_http.get(LOG_URL).status_code == 403


def test_it_filters_the_errors(owner_http, agency):
    api_call(agency, "/ok.json", status=200)
    api_call(agency, "/created.json", method="POST", status=201)
    api_call(agency, "/not-found.json", status=404, error="NotFound: Record not found")
    api_call(agency, "/unavailable.json", status=503, error="Unavailable: maintenance")
    api_call(agency, "/timeout.json", status=None, error="NetworkError: did not answer in time")

    response = owner_http.get(LOG_URL, {"errors": "1"})

    assert sorted(call.path for call in response.context["calls"]) == [
        "/not-found.json",
        "/timeout.json",
        "/unavailable.json",
    ]
    content = response.content.decode()
    assert "NetworkError: did not answer in time" in content
    assert "/ok.json" not in content


def test_it_pages_by_one_hundred(owner_http, agency):
    ApiCall.objects.bulk_create(
        ApiCall(agency=agency, method="GET", path=f"/page-{n}.json", status=200, duration_ms=1)
        for n in range(101)
    )

    first = owner_http.get(LOG_URL)
    second = owner_http.get(LOG_URL, {"page": "2"})

    assert len(first.context["calls"]) == 100
    assert len(second.context["calls"]) == 1
    assert "?page=2" in first.content.decode()
    assert owner_http.get(LOG_URL, {"page": "nonsense"}).status_code == 200


def test_it_is_linked_from_the_settings_menu_and_the_fakturoid_page(owner_http, member_http):
    assert LOG_URL in owner_http.get("/").content.decode()
    assert LOG_URL in owner_http.get("/agency/settings/fakturoid/").content.decode()
    assert LOG_URL not in member_http.get("/").content.decode()


def test_it_shows_the_query_but_never_the_credentials(owner_http, agency, fakturoid_settings):
    """A real verification writes the log; the page shows paths and queries, no secrets."""
    fakturoid_settings.access_token = TOKEN
    fakturoid_settings.token_expires_at = timezone.now() + timedelta(hours=1)
    fakturoid_settings.save()
    api_call(agency, "/accounts/acme/subjects.json?custom_id=abc123-c7&page=1")
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/user.json", status=401, json={"error": "invalid_token"})
        mock.post(f"{API}/oauth/token", status=401, json={"error": "invalid_client"})

        owner_http.post("/agency/settings/fakturoid/verify/")

    content = owner_http.get(LOG_URL).content.decode()

    assert "/accounts/acme/subjects.json?custom_id=abc123-c7&amp;page=1" in content
    assert "/user.json" in content
    assert "/oauth/token" in content
    assert TOKEN not in content
    assert fakturoid_settings.api_client_secret not in content
    assert "Bearer" not in content
    assert "Authorization" not in content
    stored = " ".join(str(value) for row in ApiCall.objects.values_list() for value in row)
    assert TOKEN not in stored
    assert fakturoid_settings.api_client_secret not in stored


def test_it_has_no_field_that_could_hold_a_credential():
    names = {field.name for field in ApiCall._meta.get_fields()}

    assert names == {
        "id",
        "agency",
        "created_at",
        "method",
        "path",
        "status",
        "duration_ms",
        "rate_limit_remaining",
        "error",
    }


def test_it_says_when_there_is_nothing_to_show(owner_http, agency):
    assert FakturoidSettings.objects.count() == 0

    content = owner_http.get(LOG_URL).content.decode()
    errors = owner_http.get(LOG_URL, {"errors": "1"}).content.decode()

    assert "No requests to Fakturoid yet." in content
    assert "No failed requests to Fakturoid." in errors


def test_it_shows_paths_decoded(owner_http, agency):
    ApiCall.objects.create(
        agency=agency,
        method="GET",
        path="/accounts/acme/subjects/search.json?query=Kav%C3%A1rna+Hrub%C3%BD&page=1",
        status=200,
        duration_ms=12,
    )

    html = owner_http.get(LOG_URL).content.decode()

    assert "search.json?query=Kavárna Hrubý&amp;page=1" in html
