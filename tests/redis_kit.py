"""The test Redis (rate-limit store): its URI and one reachability check shared by the tests that need it.

With CI set an unreachable Redis fails the run (scripts/test.sh starts it); elsewhere those tests skip."""

from __future__ import annotations

import os

import pytest
import redis

REDIS_URI = os.environ.get("HAILONG_TEST_REDIS", "redis://127.0.0.1:6379")


def redis_or_skip() -> redis.Redis:
    """A connected client, or fail (CI) / skip (elsewhere) with the reason."""
    client = redis.Redis.from_url(REDIS_URI, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URI} is unreachable and CI is set: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URI}: {exc}")
    return client
