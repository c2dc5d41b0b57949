"""Player identity rules: what a uid may be and how a display name is cleaned (pure).

One rule each, used at the upstream edge (decode), by the database columns, the API path and
the page route, so a row accepted anywhere is accepted everywhere. Documented in
`docs/upstream.md` ("Rows").
"""

from __future__ import annotations

import re
import unicodedata

import regex

__all__ = [
    "NAME_MAX_CODEPOINTS",
    "NAME_MAX_GRAPHEMES",
    "UID_MAX",
    "UID_PATTERN",
    "clean_name",
    "clip",
    "is_uid",
    "placeholder_name",
]

UID_MAX = 64  # the players.uid and history.uid columns are varchar(64)
# Letters, digits, '-' and '_' (upstream sends 20 alphanumerics; UUID-style ids pass too).
# Path-safe, so the same string works in /player/{uid} and /api/players/{uid} unescaped.
UID_PATTERN = rf"[A-Za-z0-9_-]{{1,{UID_MAX}}}"
_UID = re.compile(UID_PATTERN)

NAME_MAX_GRAPHEMES = 48  # what a person sees: user-perceived characters (grapheme clusters)
NAME_MAX_CODEPOINTS = 160  # bounds the storage of a few graphemes stacked with combining marks
_ELLIPSIS = "…"

# Characters that change how the text around them is shown without showing themselves:
# bidi embeddings, overrides, isolates and marks (a right-to-left override turns "evil" into
# "live" on the page), zero-width spaces, joiners used as spacers, the BOM and soft hyphen.
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069\u3164\ufeff\uffa0"
)
# ZWJ and ZWNJ are kept between two visible characters only: they build emoji sequences
# (family, rainbow flag) and shape Persian and Indic script; anywhere else they hide text.
_JOINERS = frozenset("\u200c\u200d")
_GRAPHEME = regex.compile(r"\X")


def is_uid(text: str) -> bool:
    """Whether `text` is a valid player uid (1-64 of A-Z a-z 0-9 - _)."""
    return _UID.fullmatch(text) is not None


def placeholder_name(uid: str) -> str:
    """The stable name shown for a player whose name is empty after cleaning."""
    return f"Player {uid[:8]}"


def clean_name(raw: str, uid: str) -> str:
    """The display name for `raw`: NFC, no control or invisible characters, whitespace runs
    collapsed to one space, trimmed, at most `NAME_MAX_GRAPHEMES` graphemes (cut at a grapheme
    boundary, ending in '…'); `placeholder_name(uid)` when nothing visible is left."""
    if 0 < len(raw) <= NAME_MAX_GRAPHEMES and raw.isascii() and raw.isprintable() and raw.strip() == raw and "  " not in raw:  # noqa: E501
        return raw  # most names: plain ASCII already in shape (the hot path at 100k rows)
    text = unicodedata.normalize("NFC", raw)
    kept: list[str] = []
    last = len(text) - 1
    for i, char in enumerate(text):
        if char.isspace():
            kept.append(" ")
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") or char in _INVISIBLE:  # controls, lone surrogates
            continue
        if char in _JOINERS and not (0 < i < last and _visible(text[i - 1]) and _visible(text[i + 1])):
            continue
        kept.append(char)
    name = " ".join("".join(kept).split())
    if not any(_visible(char) for char in name):
        return placeholder_name(uid)
    return clip(name, NAME_MAX_GRAPHEMES, NAME_MAX_CODEPOINTS)


def clip(text: str, graphemes: int, codepoints: int | None = None) -> str:
    """`text` cut to at most `graphemes` grapheme clusters (and `codepoints` code points),
    never inside a cluster; a cut text ends in '…' (counted in both limits)."""
    if len(text) <= graphemes:  # every grapheme holds at least one code point
        return text
    clusters = _GRAPHEME.findall(text)
    limit = codepoints if codepoints is not None else len(text)
    if len(clusters) <= graphemes and len(text) <= limit:
        return text
    out: list[str] = []
    used = len(_ELLIPSIS)
    for cluster in clusters[: max(graphemes - 1, 0)]:
        if used + len(cluster) > limit:
            break
        out.append(cluster)
        used += len(cluster)
    return "".join(out).rstrip() + _ELLIPSIS


def _visible(char: str) -> bool:
    # Letters, numbers, punctuation and symbols (emoji are symbols); a mark alone is not.
    return unicodedata.category(char)[0] in "LNPS"
