"""The operator's files agree with the code: every variable documented, every command the
container files run exists, the load balancer passes websocket upgrades."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server.__main__ import build_parser
from server.settings import _ENV

ROOT = Path(__file__).resolve().parents[2]


def test_every_environment_variable_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", text, re.MULTILINE))
    missing = sorted(set(_ENV) - documented)
    assert not missing, f"add these to docs/configuration.md: {missing}"
    unknown = sorted(documented - set(_ENV) - {"POSTGRES_PASSWORD", "GOATED_HTTP_PORT", "COMPOSE_PROFILES"})
    assert not unknown, f"docs/configuration.md documents variables the code does not read: {unknown}"


def test_the_env_example_names_only_real_variables() -> None:
    names = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / "deploy" / "env.example").read_text(), re.MULTILINE)
    assert names
    assert set(names) <= set(_ENV) | {"POSTGRES_PASSWORD", "GOATED_HTTP_PORT", "COMPOSE_PROFILES"}


def _goated_commands() -> list[list[str]]:
    """Every `goated ...` the compose file (commands and health checks) and the Dockerfile run."""
    compose = (ROOT / "docker-compose.yml").read_text()
    lists = [json.loads(m) for m in re.findall(r"^\s+(?:command|test): (\[.*\])\s*$", compose, re.MULTILINE)]
    lists += [json.loads(m) for m in re.findall(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)]
    commands = [found[1:] if found[:1] == ["CMD"] else found for found in lists]
    return [c for c in commands if c[:1] == ["goated"]]


def _services() -> dict[str, str]:
    """docker-compose.yml's services, name -> its block of text."""
    compose = (ROOT / "docker-compose.yml").read_text()
    body = compose.split("\nservices:\n", 1)[1].split("\n\nvolumes:", 1)[0]
    parts = re.split(r"^  ([a-z][a-z0-9_-]*):\n", body, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_container_files_run_commands_that_exist() -> None:
    commands = _goated_commands()
    assert ["goated", "serve", "--host", "0.0.0.0"] in commands
    assert ["goated", "migrate"] in commands
    assert ["goated", "bot"] in commands
    for command in commands:
        try:
            build_parser().parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"`{' '.join(command)}` is not a valid goated command")


def test_every_long_running_service_has_a_health_check() -> None:
    services = _services()
    assert {"postgres", "redis", "migrate", "app", "nginx", "bot"} <= set(services)
    for name in ("postgres", "redis", "nginx", "bot"):
        assert "healthcheck:" in services[name], f"{name} has no health check"
    # app: the image's HEALTHCHECK, which asks /health
    assert "healthcheck:" not in services["app"]
    assert "/health" in (ROOT / "Dockerfile").read_text().split("HEALTHCHECK", 1)[1]
    assert "replicas: 2" in services["app"]


def test_nginx_passes_websocket_upgrades_and_hides_metrics() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    ws = conf.split("location = /ws", 1)[1].split("}", 1)[0]
    assert "proxy_set_header Upgrade $http_upgrade" in ws
    assert "proxy_set_header Connection $connection_upgrade" in ws
    assert "proxy_http_version 1.1" in conf
    assert re.search(r"location = /metrics \{\s*return 404;", conf)
    assert conf.count("{") == conf.count("}")


def test_the_readme_links_the_operator_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    for doc in ("architecture.md", "configuration.md", "operations.md", "protocol.md"):
        assert f"docs/{doc}" in readme
        assert (ROOT / "docs" / doc).exists()
