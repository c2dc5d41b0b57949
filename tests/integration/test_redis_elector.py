"""The Redis leader lock on a real Redis: one holder, renewals, loss and release."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from server.leader import RedisElector


async def test_one_holder_renews_loses_and_releases(redis_url: str) -> None:
    key = f"goated-test:{uuid.uuid4().hex[:8]}:leader"
    redis = Redis.from_url(redis_url)
    try:
        a, b = RedisElector(redis, key, ttl=5), RedisElector(redis, key, ttl=5)
        assert await a.try_acquire() is True
        assert await b.try_acquire() is False
        assert await a.still_held() is True and 4000 < await redis.pttl(key) <= 5000
        assert await b.still_held() is False  # never held it
        await b.release()  # not the holder: the key stays a's
        assert await redis.exists(key) == 1

        await redis.delete(key)  # the TTL ran out while a was away
        assert await a.still_held() is False
        assert await b.try_acquire() is True
        await a.release()  # a stale holder never frees the new one's key
        assert await b.still_held() is True
        await b.release()
        assert await redis.exists(key) == 0
    finally:
        await redis.delete(key)
        await redis.aclose()
