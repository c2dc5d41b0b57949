"""The runbook's token rotation through a load balancer: the PUT lands on any replica, and
the sync leader must use the new token (PostgreSQL, Redis, two apps, real HTTP)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from cryptography.fernet import Fernet

from tests.conftest import live_settings, running_app, running_sim

ADMIN = "admin-token-for-rotation-test"


async def test_a_token_put_on_a_follower_reaches_the_leader(pg_url: str, redis_url: str) -> None:
    async with running_sim(token="the-new-token-2") as sim:
        settings = live_settings(
            pg_url,
            sim,
            goated_token="the-old-token-1",
            admin_token=ADMIN,
            token_key=Fernet.generate_key().decode(),  # the same key on both replicas
            redis_url=redis_url,
            redis_prefix=f"goated-test:{uuid.uuid4().hex[:8]}",
        )
        async with running_app(settings) as (_, leader), running_app(settings) as (follower_url, follower):
            assert leader.is_leader and not follower.is_leader
            assert (await leader.sync.run_once("test")).status == "failed"  # the old token is refused

            async with httpx.AsyncClient(base_url=follower_url) as http:
                r = await http.put(
                    "/api/admin/upstream-token",
                    json={"token": "the-new-token-2"},
                    headers={"Authorization": f"Bearer {ADMIN}"},
                )
                assert r.status_code == 200, r.text

            async with asyncio.timeout(10):
                while leader.sync.last_result is None or leader.sync.last_result.status != "ok":
                    await asyncio.sleep(0.05)
            assert leader.token.source == "admin"
