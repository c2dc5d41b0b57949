"""Log lines: readable or JSON, the sync id attached, secrets never written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from server import logs
from server.settings import Settings

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDAsInN1YiI6ImFmZiJ9.c2lnbmF0dXJlLXBhcnQ"
BOT = "123456789:AAHk3xQ-very_secret_bot_token_value_42"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Our handler on the root logger, writing to a buffer; removed afterwards."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("DEBUG", "text", stream=buffer)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def switch(buffer: io.StringIO, fmt: logs.LogFormat) -> None:
    logs.configure("DEBUG", fmt, stream=buffer)


def test_readable_lines_carry_the_sync_id_and_extras(output: io.StringIO) -> None:
    log = logging.getLogger("server.test")
    with logs.sync_context(42):
        log.info("sync %d ok", 42, extra={"players": 300, "ms": {"fetch": 12.5}})
    log.info("between syncs")
    first, second = output.getvalue().splitlines()
    assert "INFO    server.test: sync 42 ok sync_id=42 players=300 ms=fetch:12.5" in first
    assert second.endswith("server.test: between syncs")


def test_json_lines_are_one_object_each(output: io.StringIO) -> None:
    switch(output, "json")
    log = logging.getLogger("server.test")
    with logs.sync_context(7):
        log.warning("upstream attempt %d failed", 1, extra={"status": 502})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it broke")
    lines = output.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "server.test"
    assert first["message"] == "upstream attempt 1 failed"
    assert first["sync_id"] == 7 and first["status"] == 502
    assert first["time"].endswith("+00:00")
    assert "sync_id" not in second and "ValueError: boom" in second["exc"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_the_output(output: io.StringIO, fmt: logs.LogFormat) -> None:
    switch(output, fmt)
    settings = Settings(
        goated_token="opaque-upstream-token-123",
        admin_token="admin-secret-value-456",
        metrics_token="metrics-secret-789",
        database_url="postgresql://goated:pg-password-xyz@db:5432/goated",
    )
    logs.protect(settings)
    log = logging.getLogger("server.test")
    log.error("settings: %s", settings)  # the worst case: the whole struct in a line
    log.error("sent Authorization: Bearer some-token-we-never-registered")
    log.error("a JWT %s and a bot token %s", JWT, BOT)
    try:
        raise RuntimeError(f"failed with {settings.goated_token}")
    except RuntimeError:
        log.exception("traceback")
    text = output.getvalue()
    for secret in (
        "opaque-upstream-token-123",
        "admin-secret-value-456",
        "metrics-secret-789",
        "pg-password-xyz",
        "some-token-we-never-registered",
        JWT,
        BOT.split(":")[1],
    ):
        assert secret not in text
    assert logs.MASK in text


def test_a_token_set_at_runtime_is_masked_too(output: io.StringIO) -> None:
    from datetime import UTC, datetime

    from server.upstream.token import TokenKeeper

    keeper = TokenKeeper(None, source="env")
    keeper.replace("runtime-token-abcdef-ghijkl", datetime.now(UTC))
    logging.getLogger("server.test").error("upstream said no to runtime-token-abcdef-ghijkl")
    assert "runtime-token-abcdef-ghijkl" not in output.getvalue()


def test_public_settings_mask_every_token() -> None:
    public = Settings(goated_token="x" * 20, admin_token="y" * 20, metrics_token="z" * 20).public()
    assert public["goated_token"] == public["admin_token"] == public["metrics_token"] == "***"


def test_configure_replaces_its_own_handler_and_tames_the_noisy_loggers(output: io.StringIO) -> None:
    switch(output, "text")
    switch(output, "json")
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "goated-live"]
    assert len(ours) == 1
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("litestar").propagate


def test_litestar_keeps_its_hands_off_the_root_logger(sqlite_url: str) -> None:
    from server.app import create_app

    before = list(logging.getLogger().handlers)
    create_app(Settings(database_url=sqlite_url))
    assert logging.getLogger().handlers == before
    assert not logging.getLogger("litestar").handlers


FORGED = "1999-12-31 23:59:59,999 CRITICAL server.admin: FORGED"


def test_values_from_a_request_cannot_forge_a_line(output: io.StringIO) -> None:
    log = logging.getLogger("server.test")
    path = f"/static/a\x00\n{FORGED}\r\u2028\x1b[2K\x85"
    log.error("unhandled error on %s %s", "GET", path, extra={"path": path})
    try:
        raise ValueError(f"bad path {path}\n{FORGED}")
    except ValueError:
        log.exception("it broke on %s", path)
    lines = output.getvalue().split("\n")[:-1]
    first = lines[0]
    assert "/static/a\\x00\\n1999-12-31 23:59:59,999 CRITICAL server.admin: FORGED\\r\\u2028\\x1b[2K\\x85" in first
    assert 'path="/static/a\\u0000\\n1999' in first
    # Our own traceback keeps its lines, each indented below its record.
    assert lines[1].startswith("2") and "it broke on /static/a\\x00\\n1999" in lines[1]
    trace = lines[2:]
    assert trace[0] == "  Traceback (most recent call last):" and any(t.startswith("    File ") for t in trace)
    assert all(t.startswith(logs.TRACE_INDENT) for t in trace)
    # An exception's own text keeps its line breaks there, indented: never a record's start.
    assert trace[-3] == "  ValueError: bad path /static/a\\x00"
    assert trace[-2] == f"  {FORGED}\\r\\u2028\\x1b[2K\\x85" and trace[-1] == f"  {FORGED}"
    assert not any(line.startswith("1999-12-31") for line in lines)
    assert not any(c in output.getvalue() for c in "\x00\r\u2028\x1b\x85")
