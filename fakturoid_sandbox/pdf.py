"""A one-page PDF of an invoice, written by hand (no PDF library needed for a sandbox)."""

import unicodedata

from fakturoid_sandbox.models import Invoice
from fakturoid_sandbox.serializers import decimal_str


def _pdf_text(text: str) -> str:
    """ASCII for the built-in Helvetica font, with PDF string escapes."""
    text = text.translate(str.maketrans({"–": "-", "—": "-", "„": '"', "“": '"'}))
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def render_pdf(lines: list[str]) -> bytes:
    """A valid single-page A4 PDF showing `lines` of text."""
    text_ops = ["BT", "/F1 12 Tf", "50 790 Td", "16 TL"]
    for line in lines:
        text_ops.append(f"({_pdf_text(line)}) '")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


def invoice_pdf(invoice: Invoice) -> bytes:
    lines = [
        f"Invoice {invoice.number} (Fakturoid sandbox - not a real invoice)",
        f"Supplier: {invoice.account.name}",
        f"Client: {invoice.client_name}",
        f"Issued on: {invoice.issued_on.isoformat()}  Due on: {invoice.due_on.isoformat()}",
        "",
    ]
    for line in invoice.lines.all():
        lines.append(
            f"{line.name}: {decimal_str(line.quantity)} x {decimal_str(line.unit_price)} "
            f"(VAT {decimal_str(line.vat_rate)} %)"
        )
    lines += ["", f"Total: {decimal_str(invoice.total)} {invoice.currency}"]
    lines.append(f"Variable symbol: {invoice.variable_symbol}")
    return render_pdf(lines)
