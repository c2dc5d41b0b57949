"""A race's standings as CSV for spreadsheets, safe to open in one (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from server.races.standings import Standing, amount_cents

HEADER = ("position", "uid", "name", "amount_usd", "prize_usd")
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"): it gets a leading apostrophe, which they show as text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def standings_csv(rows: Sequence[Standing]) -> str:
    """Header, then one line per row in standings order: amounts and prizes in USD with two
    decimals (amounts in cents as races compare them), lines ended by CRLF (RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for s in rows:
        writer.writerow((s.position, as_text(s.uid), as_text(s.name), usd(amount_cents(s.amount)), usd(s.prize_cents)))
    return out.getvalue()


def as_text(value: str) -> str:
    """`value`, with an apostrophe before it when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def usd(cents: int) -> str:
    """1234567 -> "12345.67": no currency sign, no thousands separator."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole}.{rest:02d}"
