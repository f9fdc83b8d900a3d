"""A form renderer for the rows the client form repeats (contacts, projects, billing items).

Django renders every widget through the template engine; a client with 5 projects × 5 items
has some 300 widgets, and rendering them that way was most of the page's time. Plain inputs
and flat selects are written here directly, with the same markup Django's templates give;
every other widget still goes through the templates.
"""

from django.forms.renderers import DjangoTemplates
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{kind}.html"
    for kind in ("text", "number", "email", "url", "tel", "hidden", "date", "checkbox")
)
SELECT_TEMPLATE = "django/forms/widgets/select.html"


def _attrs(attrs: dict) -> str:
    # Like Django's attrs.html: True is a bare attribute, False leaves it out.
    return flatatt({name: value for name, value in attrs.items() if value is not False})


def _input(widget: dict) -> SafeString:
    value = widget["value"]
    value_attr = format_html(' value="{}"', value) if value is not None else ""
    return format_html(
        '<input type="{}" name="{}"{}{}>',
        widget["type"],
        widget["name"],
        value_attr,
        _attrs(widget["attrs"]),
    )


def _select(widget: dict) -> SafeString:
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (option["value"], _attrs(option["attrs"]), option["label"])
            for _group, group_options, _index in widget["optgroups"]
            for option in group_options
        ),
    )
    return format_html(
        '<select name="{}"{}>{}</select>', widget["name"], _attrs(widget["attrs"]), options
    )


class RowRenderer(DjangoTemplates):
    """Inputs and selects without optgroups directly; anything else through the templates."""

    def render(self, template_name: str, context: dict, request=None) -> str:  # noqa: ANN001
        widget = context.get("widget")
        if template_name in INPUT_TEMPLATES:
            return _input(widget)
        if template_name == SELECT_TEMPLATE and not any(g[0] for g in widget["optgroups"]):
            return _select(widget)
        return super().render(template_name, context, request)


ROW_RENDERER = RowRenderer()
