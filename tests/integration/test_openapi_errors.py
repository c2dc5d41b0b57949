"""The OpenAPI document describes the error bodies the server really sends."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import live_settings, running_app, running_sim

TOKEN = "openapi-admin-token"
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict, "array": list, "string": str, "integer": int, "number": (int, float), "boolean": bool, "null": type(None),
}


def problems(value: Any, schema: dict[str, Any], doc: dict[str, Any], where: str = "$") -> list[str]:
    """Where `value` breaks `schema`: the JSON Schema words the document uses, nothing more."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return problems(value, doc["components"]["schemas"][name], doc, where)
    if "oneOf" in schema:
        matching = [s for s in schema["oneOf"] if not problems(value, s, doc, where)]
        return [] if len(matching) == 1 else [f"{where}: matches {len(matching)} of oneOf"]
    found: list[str] = []
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(isinstance(value, JSON_TYPES[k]) and not (k == "integer" and isinstance(value, bool)) for k in kinds):
            return [f"{where}: {type(value).__name__} is not {kinds}"]
    if isinstance(value, dict):
        found += [f"{where}: {name} missing" for name in schema.get("required", ()) if name not in value]
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                found += problems(item, properties[name], doc, f"{where}.{name}")
            elif schema.get("additionalProperties") is False or (properties and "additionalProperties" not in schema):
                found.append(f"{where}: {name} is not documented")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += problems(item, schema["items"], doc, f"{where}[{i}]")
    return found


def documented(doc: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    responses = doc["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} does not document {status}: {sorted(responses)}"
    return responses[str(status)]["content"]["application/json"]["schema"]


async def test_documented_error_schemas_validate_real_error_responses(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim, admin_token=TOKEN)) as (base, services):
        await services.sync.run_once("test")
        async with httpx.AsyncClient(base_url=base) as http:
            doc = (await http.get("/schema/openapi.json")).json()
            auth = {"Authorization": f"Bearer {TOKEN}"}
            cases = [
                ("GET", "/api/leaderboard/yearly", "/api/leaderboard/{period}", 400, {}, None),
                ("GET", "/api/races?limit=many", "/api/races", 400, {}, None),  # validation: `details` per field
                ("GET", "/api/races/999", "/api/races/{race_id}", 404, {}, None),
                ("GET", "/api/players/NOBODY", "/api/players/{uid}", 404, {}, None),
                ("POST", "/api/admin/races", "/api/admin/races", 401, {}, {}),
                ("POST", "/api/admin/races", "/api/admin/races", 400, auth, {"title": "no times"}),
                ("PATCH", "/api/admin/races/999", "/api/admin/races/{race_id}", 404, auth, {"title": "x"}),
            ]
            for method, url, path, status, headers, body in cases:
                response = await http.request(method, url, headers=headers, json=body)
                assert response.status_code == status, (method, url, response.text)
                sent = response.json()
                assert problems(sent, documented(doc, method, path, status), doc) == [], (method, url, sent)
            validation = (await http.get("/api/races?limit=many")).json()
            assert validation["details"][0]["key"] == "limit"


async def test_the_admin_apis_off_answer_is_documented(sqlite_url: str) -> None:
    async with running_sim() as sim, running_app(live_settings(sqlite_url, sim)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as http:
            doc = (await http.get("/schema/openapi.json")).json()
            off = await http.post("/api/admin/sync")
            assert off.status_code == 503
            assert problems(off.json(), documented(doc, "POST", "/api/admin/sync", 503), doc) == []
