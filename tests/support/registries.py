"""The public registers as the tests see them: their real addresses (mocked with `responses`
by the `real_registries` fixture) and real-shaped answers in tests/fixtures/registries/. The
`standins` fixture serves the local stand-ins from the live server instead."""

from pathlib import Path

ARES = "https://ares.gov.cz/ekonomicke-subjekty-v-be/rest"
VIES = "https://ec.europa.eu/taxation_customs/vies/rest-api"
CNB = (
    "https://www.cnb.cz/cs/financni-trhy/devizovy-trh/kurzy-devizoveho-trhu/"
    "kurzy-devizoveho-trhu/denni_kurz.txt"
)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "registries"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")
