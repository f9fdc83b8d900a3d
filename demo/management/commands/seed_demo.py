"""`python manage.py seed_demo`: a demo agency with realistic clients, safe to run again.

Every row is keyed by a stable value (user name, agency name, IČO, project name, item
description), so a second run finds what the first one made and changes nothing.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.utils import timezone

from agencies.models import Agency, FakturoidSettings, Membership
from clients.models import BillingItem, Client, ContactPerson, Label, Project
from clients.months import first_day
from fakturoid_sandbox.control import ensure_account, ensure_subject

User = get_user_model()
M = TypeVar("M", bound=models.Model)

MONTHLY = BillingItem.Kind.MONTHLY
ONE_OFF = BillingItem.Kind.ONE_OFF
ESHOP = Project.Kind.ESHOP
SERVICE = Project.Kind.SERVICE


@dataclass(frozen=True)
class UserSeed:
    username: str
    password: str
    email: str
    first_name: str
    last_name: str
    role: str


@dataclass(frozen=True)
class ItemSeed:
    """A billing item; months are offsets from the current month (0 = this month, -1 = last)."""

    description: str
    amount: str
    kind: str = MONTHLY
    vat_rate: int = 21
    first: int | None = None
    last: int | None = None
    month: int | None = None


@dataclass(frozen=True)
class ProjectSeed:
    name: str
    kind: str = ESHOP
    url: str = ""
    active: bool = True
    items: tuple[ItemSeed, ...] = ()


@dataclass(frozen=True)
class ClientSeed:
    name: str
    ico: str
    street: str
    city: str
    zip: str
    email: str
    phone: str = ""
    vat_payer: bool = True
    labels: tuple[str, ...] = ()
    contacts: tuple[tuple[str, str, str, str], ...] = ()  # name, role, e-mail, phone
    projects: tuple[ProjectSeed, ...] = field(default=())
    # A client abroad: its own VAT number, country and currency.
    vat_no: str | None = None
    country: str = "CZ"
    currency: str = "CZK"

    @property
    def dic(self) -> str:
        if self.vat_no is not None:
            return self.vat_no
        return f"CZ{self.ico}" if self.vat_payer else ""


DEMO_OWNER = UserSeed("demo", "demo1234", "demo@demo-agency.example", "Petra", "Svobodová", "owner")
DEMO_MEMBER = UserSeed(
    "kolega", "kolega1234", "kolega@demo-agency.example", "Tomáš", "Král", "member"
)
RIVAL_OWNER = UserSeed(
    "rival", "rival1234", "rival@rival-agency.example", "Martin", "Urban", "owner"
)

PPC = ItemSeed("PPC campaign management", "12000")

DEMO_CLIENTS = (
    ClientSeed(
        "Kávovar Hrubý s.r.o.",
        "26148731",
        "Lidická 42",
        "Brno",
        "602 00",
        "fakturace@kavovarhruby.cz",
        "+420 603 214 587",
        labels=("PPC", "E-commerce"),
        contacts=(("Jan Hrubý", "CEO", "jan.hruby@kavovarhruby.cz", "+420 603 214 587"),),
        projects=(
            ProjectSeed(
                "kavovarhruby.cz",
                url="https://www.kavovarhruby.cz",
                items=(
                    ItemSeed("Google Ads management", "14500"),
                    ItemSeed("Sklik management", "6500", first=-5),
                    ItemSeed("Christmas landing page", "18000", kind=ONE_OFF, month=-1),
                ),
            ),
        ),
    ),
    ClientSeed(
        "Zahradnictví Květinka s.r.o.",
        "04725191",
        "Na Sadech 15",
        "České Budějovice",
        "370 01",
        "ucetni@kvetinka-zahrady.cz",
        "+420 724 118 903",
        labels=("SEO", "E-commerce"),
        contacts=(("Lucie Malá", "Marketing", "lucie.mala@kvetinka-zahrady.cz", ""),),
        projects=(
            ProjectSeed(
                "kvetinka-zahrady.cz",
                url="https://www.kvetinka-zahrady.cz",
                items=(
                    ItemSeed("SEO – content and link building", "9800"),
                    ItemSeed("Spring season campaign", "7000", first=-2, last=1),
                ),
            ),
        ),
    ),
    ClientSeed(
        "Sportovní potřeby Horák a.s.",
        "28836456",
        "Masarykova 118",
        "Olomouc",
        "779 00",
        "faktury@sport-horak.cz",
        "+420 585 220 114",
        labels=("Key account", "PPC", "E-commerce"),
        contacts=(
            ("Pavel Horák", "Managing director", "pavel.horak@sport-horak.cz", "+420 602 330 118"),
            ("Eva Šimková", "E-commerce manager", "eva.simkova@sport-horak.cz", "+420 737 402 551"),
        ),
        projects=(
            ProjectSeed(
                "sport-horak.cz",
                url="https://www.sport-horak.cz",
                items=(
                    ItemSeed("PPC campaign management", "32000"),
                    ItemSeed("Product feed management", "4500"),
                    ItemSeed("Black Friday campaign setup", "15000", kind=ONE_OFF, month=0),
                ),
            ),
            ProjectSeed(
                "sport-horak.sk",
                url="https://www.sport-horak.sk",
                items=(ItemSeed("PPC campaign management SK", "12000", first=-3),),
            ),
            ProjectSeed(
                "Brand awareness",
                kind=SERVICE,
                items=(ItemSeed("YouTube and Display campaigns", "18000", first=-8, last=3),),
            ),
        ),
    ),
    ClientSeed(
        "Pekárna U Mlýna s.r.o.",
        "06712541",
        "Mlýnská 7",
        "Tábor",
        "390 01",
        "pekarna@umlyna.cz",
        "+420 381 252 663",
        labels=("SEO",),
        projects=(
            ProjectSeed(
                "Local SEO",
                kind=SERVICE,
                url="https://www.pekarna-umlyna.cz",
                items=(
                    ItemSeed("Local SEO and Google Business Profile", "4900"),
                    ItemSeed("Website speed audit", "6500", kind=ONE_OFF, month=-1),
                ),
            ),
        ),
    ),
    ClientSeed(
        "Elektro Dvořák s.r.o.",
        "24951072",
        "Průmyslová 1024",
        "Plzeň",
        "301 00",
        "fakturace@elektro-dvorak.cz",
        "+420 377 540 120",
        labels=("PPC", "E-commerce"),
        contacts=(("Martin Dvořák", "Owner", "martin@elektro-dvorak.cz", "+420 608 773 120"),),
        projects=(
            ProjectSeed(
                "elektro-dvorak.cz",
                url="https://www.elektro-dvorak.cz",
                items=(
                    ItemSeed("Google Shopping management", "16000"),
                    ItemSeed("Heureka and Zboží.cz feeds", "3500"),
                ),
            ),
        ),
    ),
    ClientSeed(
        "Nábytek Jelínek s.r.o.",
        "05368120",
        "Tovární 560",
        "Zlín",
        "760 01",
        "ucetnictvi@nabytek-jelinek.cz",
        "+420 577 104 330",
        labels=("Key account", "E-commerce"),
        contacts=(("Radek Jelínek", "CEO", "radek@nabytek-jelinek.cz", ""),),
        projects=(
            ProjectSeed(
                "nabytek-jelinek.cz",
                url="https://www.nabytek-jelinek.cz",
                items=(
                    ItemSeed("PPC campaign management", "24000"),
                    ItemSeed("SEO", "12000", first=-10),
                    ItemSeed("New category pages", "22000", kind=ONE_OFF, month=0),
                ),
            ),
            ProjectSeed(
                "Showroom campaigns",
                kind=SERVICE,
                items=(ItemSeed("Meta Ads for the Zlín showroom", "8000", first=-1, last=4),),
            ),
        ),
    ),
    ClientSeed(
        "Vinařství Pod Pálavou s.r.o.",
        "27183904",
        "Sklepní 12",
        "Mikulov",
        "692 01",
        "obchod@podpalavou.cz",
        "+420 519 510 245",
        labels=("PPC", "SEO"),
        projects=(
            ProjectSeed(
                "podpalavou.cz",
                url="https://www.podpalavou.cz",
                items=(
                    ItemSeed("PPC campaign management", "8500"),
                    ItemSeed("Wine shop SEO", "6000"),
                ),
            ),
        ),
    ),
    ClientSeed(
        "Autodíly Procházka s.r.o.",
        "06392750",
        "Hradecká 2210",
        "Pardubice",
        "530 02",
        "faktury@autodily-prochazka.cz",
        "+420 466 611 870",
        labels=("PPC", "E-commerce"),
        projects=(
            ProjectSeed(
                "autodily-prochazka.cz",
                url="https://www.autodily-prochazka.cz",
                items=(
                    ItemSeed("Google Ads management", "19000"),
                    ItemSeed("Campaign restructuring", "12500", kind=ONE_OFF, month=-1),
                ),
            ),
        ),
    ),
    ClientSeed(
        "Lékárna Zdraví plus s.r.o.",
        "24517631",
        "Palackého 31",
        "Hradec Králové",
        "500 03",
        "fakturace@zdraviplus.cz",
        "+420 495 215 360",
        labels=("SEO", "E-commerce"),
        contacts=(("PharmDr. Alena Benešová", "Owner", "alena.benesova@zdraviplus.cz", ""),),
        projects=(
            ProjectSeed(
                "zdraviplus.cz",
                url="https://www.zdraviplus.cz",
                items=(ItemSeed("SEO and content", "11000"), ItemSeed("Sklik management", "5000")),
            ),
        ),
    ),
    ClientSeed(
        "Mazlíček – potřeby pro zvířata s.r.o.",
        "08541264",
        "Husova 88",
        "Liberec",
        "460 01",
        "ucetni@mazlicek-shop.cz",
        "+420 485 101 229",
        labels=("PPC",),
        projects=(
            ProjectSeed(
                "mazlicek-shop.cz",
                url="https://www.mazlicek-shop.cz",
                items=(
                    ItemSeed("PPC campaign management", "9500"),
                    ItemSeed("Remarketing banners", "4800", kind=ONE_OFF, month=0),
                ),
            ),
        ),
    ),
    ClientSeed(
        "Hotel Šumava Resort a.s.",
        "29374189",
        "Náměstí Svobody 3",
        "Železná Ruda",
        "340 04",
        "recepce@sumava-resort.cz",
        "+420 376 397 100",
        labels=("PPC", "Key account"),
        contacts=(("Ing. Karel Vávra", "General manager", "vavra@sumava-resort.cz", ""),),
        projects=(
            ProjectSeed(
                "Booking campaigns",
                kind=SERVICE,
                url="https://www.sumava-resort.cz",
                items=(ItemSeed("Google Hotel Ads and PPC", "21000"),),
            ),
            ProjectSeed(
                "Winter season campaign",
                kind=SERVICE,
                active=False,
                items=(ItemSeed("Winter season PPC", "9000", first=-12, last=-9),),
            ),
        ),
    ),
    ClientSeed(
        "Módní dům Veselá s.r.o.",
        "02673592",
        "Národní 25",
        "Praha 1",
        "110 00",
        "fakturace@modnidumvesela.cz",
        "+420 224 930 512",
        labels=("E-commerce", "PPC", "SEO"),
        projects=(
            ProjectSeed(
                "modnidumvesela.cz",
                url="https://www.modnidumvesela.cz",
                items=(
                    ItemSeed("PPC campaign management", "17500"),
                    ItemSeed("SEO", "9000"),
                    ItemSeed("Influencer campaign coordination", "25000", kind=ONE_OFF, month=-1),
                ),
            ),
        ),
    ),
    ClientSeed(
        "Stavebniny Kratochvíl s.r.o.",
        "25739409",
        "Ostravská 405",
        "Ostrava",
        "702 00",
        "faktury@stavebniny-kratochvil.cz",
        "+420 596 112 480",
        labels=("PPC",),
        projects=(
            ProjectSeed(
                "stavebniny-kratochvil.cz",
                url="https://www.stavebniny-kratochvil.cz",
                items=(ItemSeed("Google Ads management", "11000", first=-4),),
            ),
        ),
    ),
    ClientSeed(
        "Cyklo Beneš s.r.o.",
        "07184638",
        "Jihlavská 76",
        "Jihlava",
        "586 01",
        "obchod@cyklobenes.cz",
        "+420 567 303 611",
        labels=("E-commerce", "SEO"),
        contacts=(("David Beneš", "Owner", "david@cyklobenes.cz", "+420 731 552 019"),),
        projects=(
            ProjectSeed(
                "cyklobenes.cz",
                url="https://www.cyklobenes.cz",
                items=(
                    ItemSeed("SEO", "7500"),
                    ItemSeed("Season PPC", "10000", first=-2, last=5),
                    ItemSeed("Shop migration consulting", "16000", kind=ONE_OFF, month=0),
                ),
            ),
            ProjectSeed(
                "Bike service booking",
                kind=SERVICE,
                items=(ItemSeed("Local campaigns", "3000"),),
            ),
        ),
    ),
    ClientSeed(
        "Jana Marková – účetní služby",
        "28461070",
        "Zeyerova 9",
        "Karlovy Vary",
        "360 01",
        "jana@markova-ucetni.cz",
        "+420 777 290 318",
        vat_payer=False,
        labels=("SEO",),
        projects=(
            ProjectSeed(
                "markova-ucetni.cz",
                kind=SERVICE,
                url="https://www.markova-ucetni.cz",
                items=(ItemSeed("Website care and SEO", "2500", vat_rate=0),),
            ),
        ),
    ),
    ClientSeed(
        "Dětský svět Novotná s.r.o.",
        "03957217",
        "Brněnská 14",
        "Kroměříž",
        "767 01",
        "fakturace@detskysvet-eshop.cz",
        "+420 573 331 902",
        labels=("E-commerce", "PPC"),
        projects=(
            ProjectSeed(
                "detskysvet-eshop.cz",
                url="https://www.detskysvet-eshop.cz",
                items=(
                    ItemSeed("PPC campaign management", "13000"),
                    ItemSeed("Product photo retouching", "5600", kind=ONE_OFF, month=0),
                    ItemSeed("Newsletter templates", "7200", kind=ONE_OFF, month=-1),
                ),
            ),
        ),
    ),
)

# Billed in EUR; once "Check VAT number" confirms its DIČ in VIES, invoices use reverse charge.
EU_CLIENT = ClientSeed(
    "Zelený obchod s.r.o.",
    "36408123",
    "Obchodná 12",
    "Bratislava",
    "811 06",
    "faktury@zelenyobchod.sk",
    "+421 2 5443 1200",
    labels=("PPC", "E-commerce"),
    projects=(
        ProjectSeed(
            "zelenyobchod.sk",
            url="https://www.zelenyobchod.sk",
            items=(ItemSeed("PPC campaign management", "1200"),),
        ),
    ),
    vat_no="SK2020345678",
    country="SK",
    currency="EUR",
)

RIVAL_CLIENTS = (
    ClientSeed(
        "Pivovar Rychtář s.r.o.",
        "29603544",
        "Nádražní 410",
        "Hlinsko",
        "539 01",
        "fakturace@pivovar-rychtar.cz",
        labels=("PPC",),
        projects=(ProjectSeed("pivovar-rychtar.cz", items=(PPC,)),),
    ),
    ClientSeed(
        "Kosmetika Lenka s.r.o.",
        "04428714",
        "Vinohradská 112",
        "Praha 3",
        "130 00",
        "ucetni@kosmetika-lenka.cz",
        labels=("E-commerce",),
        projects=(ProjectSeed("kosmetika-lenka.cz", items=(PPC,)),),
    ),
)


def seed_agencies(*, today: date | None = None) -> tuple[Agency, list[Client]]:
    """Create or update the demo agency and a rival one; return the demo agency and its clients.

    Months of billing items are relative to `today`'s month (default: today).
    """
    month = first_day(today or timezone.localdate())
    demo, clients = seed_agency(
        name="Demo Agency",
        users=(DEMO_OWNER, DEMO_MEMBER),
        clients=(*DEMO_CLIENTS, EU_CLIENT),
        month=month,
    )
    seed_agency(name="Rival Agency", users=(RIVAL_OWNER,), clients=RIVAL_CLIENTS, month=month)
    return demo, clients


def seed_agency(
    *, name: str, users: tuple[UserSeed, ...], clients: tuple[ClientSeed, ...], month: date
) -> tuple[Agency, list[Client]]:
    agency = Agency.objects.filter(name=name).order_by("pk").first()
    if agency is None:
        agency = Agency.objects.create(name=name)
    for seed in users:
        Membership.objects.update_or_create(
            user=seed_user(seed), agency=agency, defaults={"role": seed.role}
        )
    return agency, [seed_client(agency=agency, seed=seed, month=month) for seed in clients]


def seed_user(seed: UserSeed) -> User:
    user = _upsert(
        User,
        lookup={"username": seed.username},
        values={"email": seed.email, "first_name": seed.first_name, "last_name": seed.last_name},
        validate=False,
    )
    # Password hashes are salted: only set the password when it does not match already.
    if not user.check_password(seed.password):
        user.set_password(seed.password)
        user.save(update_fields=["password"])
    return user


def seed_client(*, agency: Agency, seed: ClientSeed, month: date) -> Client:
    client = _upsert(
        Client,
        lookup={"agency": agency, "registration_no": seed.ico},
        values={
            "name": seed.name,
            "vat_no": seed.dic,
            "street": seed.street,
            "city": seed.city,
            "zip": seed.zip,
            "country": seed.country,
            "email": seed.email,
            "phone": seed.phone,
            "currency": seed.currency,
        },
    )
    labels = [Label.objects.get_or_create(agency=agency, name=name)[0] for name in seed.labels]
    client.labels.set(labels)
    for contact_name, role, email, phone in seed.contacts:
        _upsert(
            ContactPerson,
            lookup={"client": client, "name": contact_name},
            values={"role": role, "email": email, "phone": phone},
        )
    for project_seed in seed.projects:
        project = _upsert(
            Project,
            lookup={"client": client, "name": project_seed.name},
            values={
                "kind": project_seed.kind,
                "url": project_seed.url,
                "active": project_seed.active,
            },
        )
        for item in project_seed.items:
            _upsert(
                BillingItem,
                lookup={"project": project, "description": item.description},
                values={
                    "amount": Decimal(item.amount),
                    "vat_rate": item.vat_rate,
                    "kind": item.kind,
                    "first_month": _shift(month, item.first),
                    "last_month": _shift(month, item.last),
                    "month": _shift(month, item.month),
                },
            )
    return client


def _shift(month: date, offset: int | None) -> date | None:
    if offset is None:
        return None
    index = month.year * 12 + month.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


def _upsert(model: type[M], *, lookup: dict, values: dict, validate: bool = True) -> M:
    """Get the row by `lookup` and give it `values`, saving only when something differs."""
    instance = model.objects.filter(**lookup).order_by("pk").first()
    if instance is None:
        instance = model(**lookup, **values)
        changed = None
    else:
        changed = [name for name, value in values.items() if getattr(instance, name) != value]
        if not changed:
            return instance
        for name in changed:
            setattr(instance, name, values[name])
    if validate:
        instance.full_clean()
    if changed is None:
        instance.save()
    else:
        instance.save(update_fields=changed)
    return instance


SANDBOX_SLUG = "demo-agency"


def seed_fakturoid(*, agency: Agency, clients: list[Client]) -> FakturoidSettings:
    """Give the demo agency a sandbox Fakturoid account and connect the agency to it.

    The contacts make matching worth showing: the first three clients are linked already (so
    the invoice icon works at once), the next three are findable by IČO, one only by its
    billing e-mail, one has two contacts sharing its name, and the rest have none (for
    "Create contact in Fakturoid").
    """
    credential = ensure_account(
        SANDBOX_SLUG,
        name="Demo Agency s.r.o.",
        registration_no="27074358",
        vat_no="CZ27074358",
        street="Karlovo náměstí 10",
        city="Praha",
        zip="120 00",
        currency="CZK",
        due=14,
    )
    account = credential.account
    fakturoid, _created = FakturoidSettings.objects.get_or_create(agency=agency)
    wanted = {
        "account_slug": account.slug,
        "api_client_id": credential.client_id,
        "api_client_secret": credential.client_secret,
        "contact_email": DEMO_OWNER.email,
        "account_name": account.name,
        "vat_mode": account.vat_mode,
        "currency": account.currency,
    }
    if any(getattr(fakturoid, field) != value for field, value in wanted.items()):
        for field, value in wanted.items():
            setattr(fakturoid, field, value)
        fakturoid.verified_at = timezone.now()
        fakturoid.save()

    ordered = sorted(clients, key=lambda client: client.name)
    for index, client in enumerate(ordered[:6]):
        subject = ensure_subject(
            SANDBOX_SLUG,
            name=client.name.upper(),
            registration_no=client.registration_no,
            vat_no=client.vat_no,
            email=client.email,
            street=client.street,
            city=client.city,
            zip=client.zip,
        )
        if index < 3 and client.fakturoid_subject_id != subject.id:
            client.link_to_contact(subject.id, source=Client.LinkSource.REGISTRATION_NO)
    abroad = next(client for client in clients if client.registration_no == EU_CLIENT.ico)
    subject = ensure_subject(
        SANDBOX_SLUG,
        name=abroad.name,
        registration_no=abroad.registration_no,
        vat_no=abroad.vat_no,
        email=abroad.email,
        street=abroad.street,
        city=abroad.city,
        zip=abroad.zip,
        country=abroad.country,
    )
    if abroad.fakturoid_subject_id != subject.id:
        abroad.link_to_contact(subject.id, source=Client.LinkSource.VAT_NO)
    by_email, ambiguous = ordered[6], ordered[7]
    ensure_subject(SANDBOX_SLUG, name="Účtárna – " + by_email.name, email=by_email.email)
    # Two contacts with the same name ("pick one"): told apart by their e-mails, or the second
    # would be found as the first and updated instead of created.
    for city in ("Praha", "Brno"):
        ensure_subject(
            SANDBOX_SLUG, name=ambiguous.name, city=city, email=f"{city.lower()}@example.cz"
        )
    return fakturoid


class Command(BaseCommand):
    help = "Create (or bring up to date) a demo agency with clients, projects and finances."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            agency, clients = seed_agencies()
            if settings.FAKTUROID_SANDBOX:
                fakturoid = seed_fakturoid(agency=agency, clients=clients)
        self.stdout.write(self.style.SUCCESS(f"{agency.name}: {len(clients)} clients are ready."))
        if settings.FAKTUROID_SANDBOX:
            self.stdout.write(
                f"Fakturoid sandbox account {fakturoid.account_slug!r} is connected: "
                f"{settings.SITE_URL}/sandbox/fakturoid/{fakturoid.account_slug}/invoices"
            )
        self.stdout.write("")
        self.stdout.write(f"  Open      {settings.SITE_URL}")
        self.stdout.write(f"  User      {DEMO_OWNER.username}")
        self.stdout.write(f"  Password  {DEMO_OWNER.password}")
        self.stdout.write("")
        self.stdout.write(
            f"  Also: {DEMO_MEMBER.username} / {DEMO_MEMBER.password} (member of {agency.name}), "
            f"{RIVAL_OWNER.username} / {RIVAL_OWNER.password} (owner of Rival Agency)."
        )
