"""`TOKEN_KEY`: the Fernet keys that seal the runtime upstream token in the database.

Fernet (from `cryptography`) is AES-128-CBC with an HMAC-SHA256 over the whole token: a
stored value that was altered, or sealed with another key, is refused, never half-read.
Several comma-separated keys rotate one: the first seals, every one opens.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["GENERATE", "InvalidToken", "TokenCipher", "is_sealed", "parse_keys"]

GENERATE = "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
# Every Fernet token starts with its version byte 0x80, base64url-encoded: "gAAAAA".
_SEALED_PREFIX = "gAAAAA"


def parse_keys(raw: str) -> tuple[str, ...]:
    """The keys in `TOKEN_KEY`, or ValueError saying how to make one."""
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys:
        raise ValueError(f"must be a Fernet key: generate one with {GENERATE}")
    for position, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            raise ValueError(
                f"key {position} is not a Fernet key (32 bytes, url-safe base64, 44 characters): "
                f"generate one with {GENERATE}"
            ) from None
    return keys


def is_sealed(stored: str) -> bool:
    return stored.startswith(_SEALED_PREFIX)


class TokenCipher:
    """Seals and opens the upstream token with the keys from `TOKEN_KEY`."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_setting(cls, raw: str | None) -> TokenCipher | None:
        return cls(parse_keys(raw)) if raw else None

    def seal(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def open(self, stored: str) -> str:
        """The token, or InvalidToken (altered, or sealed with a key not in `TOKEN_KEY`)."""
        return self._fernet.decrypt(stored.encode()).decode()
