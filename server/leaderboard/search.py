"""Player search by name: the one key names and queries are compared in, and the rule."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

__all__ = ["QUERY_MAX", "matches", "search_key", "search_keys", "select"]

QUERY_MAX = 64  # characters of a search query as typed (the API's `q`)


def search_key(text: str) -> str:
    """`text` as search compares it: NFKC (fullwidth letters, ligatures and no-break spaces
    become their plain forms), case-folded (ß and SS both become ss), every run of Unicode
    whitespace one space, trimmed. Normalized again after folding, as Unicode's
    NFKC_Casefold is, so that a key is its own key."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def search_keys(names: Iterable[str]) -> tuple[str, ...]:
    """The key of each name, in order (what a board caches per version)."""
    return tuple(map(search_key, names))


def matches(query_key: str, name_key: str) -> bool:
    """The rule: the query's key is part of the name's key. A blank query matches everyone."""
    return query_key in name_key


def select[T](query_key: str, items: Sequence[T], keys: Sequence[str]) -> list[T]:
    """The items (`keys[i]` is the key of `items[i]`'s name) that `query_key` matches."""
    # `matches`, inlined: this runs once per row of a board on every search request.
    return [item for item, key in zip(items, keys, strict=True) if query_key in key]
