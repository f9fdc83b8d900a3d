"""The stand-ins' built-in data: the companies ARES knows, the VAT numbers VIES knows, the
currencies ČNB quotes. Companies added through `registries_sandbox.control` (kept in the
database) come first.

The demo's clients are here, mostly as seeded. Three differ on purpose, so that "Check all
clients against ARES" has something to show: a bakery that moved, a car-parts shop that was
renamed and a builders' merchant that was dissolved.
"""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CompanyData:
    ico: str
    name: str
    street: str  # nazevUlice ("" for villages without streets)
    descriptive_no: int | None  # cisloDomovni
    orientation_no: str  # cisloOrientacni with its letter, "" when none
    city: str  # nazevObce
    district: str  # nazevMestskehoObvodu (Prague's postal districts), "" elsewhere
    part: str  # nazevCastiObce
    zip: str  # psc, 5 digits
    vat_payer: bool = True
    dissolved_on: date | None = None
    country: str = "CZ"

    @property
    def vat_no(self) -> str:
        return f"CZ{self.ico}" if self.vat_payer else ""


def _c(ico, name, street, descriptive, orientation, city, zip_, **extra) -> CompanyData:  # noqa: ANN001
    extra.setdefault("district", "")
    extra.setdefault("part", city)
    return CompanyData(ico, name, street, descriptive, orientation, city, zip=zip_, **extra)


COMPANIES = {
    company.ico: company
    for company in (
        _c(
            "27082440",
            "Alza.cz a.s.",
            "Jankovcova",
            1522,
            "53",
            "Praha",
            "17000",
            district="Praha 7",
            part="Holešovice",
        ),
        _c(
            "26148731", "Kávovar Hrubý s.r.o.", "Lidická", 700, "42", "Brno", "60200", part="Veveří"
        ),
        _c(
            "04725191",
            "Zahradnictví Květinka s.r.o.",
            "Na Sadech",
            2033,
            "15",
            "České Budějovice",
            "37001",
            part="České Budějovice 3",
        ),
        _c("28836456", "Sportovní potřeby Horák a.s.", "Masarykova", 118, "", "Olomouc", "77900"),
        # Moved since the demo's data was typed.
        _c("06712541", "Pekárna U Mlýna s.r.o.", "Žižkova", 1120, "9", "Tábor", "39002"),
        _c(
            "24951072",
            "Elektro Dvořák s.r.o.",
            "Průmyslová",
            1024,
            "",
            "Plzeň",
            "30100",
            part="Východní Předměstí",
        ),
        _c(
            "05368120",
            "Nábytek Jelínek s.r.o.",
            "Tovární",
            560,
            "",
            "Zlín",
            "76001",
            part="Malenovice",
        ),
        _c("27183904", "Vinařství Pod Pálavou s.r.o.", "Sklepní", 318, "12", "Mikulov", "69201"),
        # Renamed since the demo's data was typed.
        _c(
            "06392750",
            "Autodíly Procházka a syn s.r.o.",
            "Hradecká",
            2210,
            "",
            "Pardubice",
            "53002",
            part="Zelené Předměstí",
        ),
        _c(
            "24517631",
            "Lékárna Zdraví plus s.r.o.",
            "Palackého",
            1172,
            "31",
            "Hradec Králové",
            "50003",
        ),
        _c(
            "08541264",
            "Mazlíček – potřeby pro zvířata s.r.o.",
            "Husova",
            355,
            "88",
            "Liberec",
            "46001",
        ),
        _c(
            "29374189",
            "Hotel Šumava Resort a.s.",
            "Náměstí Svobody",
            3,
            "",
            "Železná Ruda",
            "34004",
        ),
        _c(
            "02673592",
            "Módní dům Veselá s.r.o.",
            "Národní",
            961,
            "25",
            "Praha",
            "11000",
            district="Praha 1",
            part="Staré Město",
        ),
        # Dissolved: still in ARES, with the date it ceased to exist.
        _c(
            "25739409",
            "Stavebniny Kratochvíl s.r.o.",
            "Ostravská",
            405,
            "",
            "Ostrava",
            "70200",
            dissolved_on=date(2026, 9, 30),
        ),
        _c("07184638", "Cyklo Beneš s.r.o.", "Jihlavská", 1440, "76", "Jihlava", "58601"),
        _c(
            "28461070",
            "Jana Marková – účetní služby",
            "Zeyerova",
            890,
            "9",
            "Karlovy Vary",
            "36001",
            vat_payer=False,
        ),
        _c("03957217", "Dětský svět Novotná s.r.o.", "Brněnská", 3321, "14", "Kroměříž", "76701"),
        _c("29603544", "Pivovar Rychtář s.r.o.", "Nádražní", 410, "", "Hlinsko", "53901"),
        _c(
            "04428714",
            "Kosmetika Lenka s.r.o.",
            "Vinohradská",
            2411,
            "112",
            "Praha",
            "13000",
            district="Praha 3",
            part="Vinohrady",
        ),
    )
}

# VAT numbers of other EU states that VIES confirms: (name, address); "---" where the member
# state does not disclose them (Germany, for one).
EU_VAT_NUMBERS = {
    "SK2020345678": ("Zelený obchod s.r.o.", "Obchodná 12\n811 06 Bratislava"),
    "DE123456789": ("---", "---"),
    "ATU12345678": ("Muster Handels GmbH", "Mariahilfer Straße 10\nAT-1070 Wien"),
    "PL5260001234": ("Przykład Sp. z o.o.", "ul. Marszałkowska 1\n00-001 Warszawa"),
}

# VIES's member-state codes (Greece is EL, Northern Ireland XI).
VIES_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI".split()
)

# ČNB's daily list: country, currency name, quantity, code, a typical CZK rate per quantity.
CURRENCIES = (
    ("Austrálie", "dolar", 1, "AUD", "15.20"),
    ("Brazílie", "real", 1, "BRL", "4.10"),
    ("Čína", "žen-min-pi", 1, "CNY", "3.20"),
    ("Dánsko", "koruna", 1, "DKK", "3.35"),
    ("EMU", "euro", 1, "EUR", "25.00"),
    ("Filipíny", "peso", 100, "PHP", "40.50"),
    ("Hongkong", "dolar", 1, "HKD", "2.95"),
    ("Indie", "rupie", 100, "INR", "27.50"),
    ("Indonesie", "rupie", 1000, "IDR", "1.42"),
    ("Island", "koruna", 100, "ISK", "16.80"),
    ("Izrael", "nový šekel", 1, "ILS", "6.20"),
    ("Japonsko", "jen", 100, "JPY", "15.30"),
    ("Jižní Afrika", "rand", 1, "ZAR", "1.27"),
    ("Kanada", "dolar", 1, "CAD", "16.80"),
    ("Korejská republika", "won", 100, "KRW", "1.65"),
    ("Maďarsko", "forint", 100, "HUF", "6.25"),
    ("Malajsie", "ringgit", 1, "MYR", "5.20"),
    ("Mexiko", "peso", 1, "MXN", "1.25"),
    ("MMF", "ZPČ", 1, "XDR", "30.60"),
    ("Norsko", "koruna", 1, "NOK", "2.10"),
    ("Nový Zéland", "dolar", 1, "NZD", "13.80"),
    ("Polsko", "zlotý", 1, "PLN", "5.85"),
    ("Rumunsko", "leu", 1, "RON", "5.00"),
    ("Singapur", "dolar", 1, "SGD", "17.20"),
    ("Švédsko", "koruna", 1, "SEK", "2.20"),
    ("Švýcarsko", "frank", 1, "CHF", "26.50"),
    ("Thajsko", "baht", 100, "THB", "65.00"),
    ("Turecko", "lira", 1, "TRY", "0.55"),
    ("USA", "dolar", 1, "USD", "22.90"),
    ("Velká Británie", "libra", 1, "GBP", "29.10"),
)
