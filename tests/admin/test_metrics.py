"""/metrics: Prometheus text that prometheus_client parses, under the names scrape configs rely on,
read from Redis in a number of commands that does not grow with the users."""

from __future__ import annotations

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from core import limits
from tests.admin.helpers import basic_auth, enqueue_jobs, seed_user

# Every sample name with its label names: what existing Prometheus scrape configs and dashboards use.
SAMPLES = {
    ("gifbot_queue_depth", ("queue",)),
    ("gifbot_jobs_running", ("queue",)),
    ("gifbot_jobs_failed_registry", ("queue",)),
    ("gifbot_jobs_scheduled", ("queue",)),
    ("gifbot_workers", ()),
    ("gifbot_videos_total", ()),
    ("gifbot_jobs_total", ("outcome",)),
    ("gifbot_input_bytes_total", ()),
    ("gifbot_output_bytes_total", ()),
    ("gifbot_jobs_today", ("outcome",)),
    ("gifbot_latency_seconds", ("quantile",)),
    ("gifbot_users", ()),
    ("gifbot_banned_users", ()),
}
COUNTERS = {"gifbot_videos", "gifbot_jobs", "gifbot_input_bytes", "gifbot_output_bytes"}


def scrape(client: FlaskClient) -> dict[str, float]:
    """GET /metrics, parsed by prometheus_client: {'name{label="value"}': value}."""
    response = client.get("/metrics", headers=basic_auth())
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = list(text_string_to_metric_families(response.get_data(as_text=True)))
    assert {f.name for f in families if f.type == "counter"} == COUNTERS
    samples = [s for f in families for s in f.samples]
    assert {(s.name, tuple(sorted(s.labels))) for s in samples} == SAMPLES
    return {s.name + "".join(f'{{{k}="{v}"}}' for k, v in s.labels.items()): s.value for s in samples}


def commands(redis: Redis) -> int:
    """Commands Redis ran since the last CONFIG RESETSTAT (INFO and CONFIG themselves left out)."""
    stats = redis.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_config"))


def test_metrics_parse_with_the_same_names_and_values(client: FlaskClient, redis_client: Redis):
    """/metrics parses with prometheus_client's parser and keeps every name, label and value."""
    seed_user(redis_client, 1, delivered=2, failed=1)
    seed_user(redis_client, 2, delivered=1, refused=2)
    limits.ban(redis_client, 2)
    enqueue_jobs(redis_client, 2)
    values = scrape(client)
    assert values['gifbot_queue_depth{queue="gifs"}'] == 2
    assert values["gifbot_workers"] == 0
    assert values['gifbot_jobs_total{outcome="delivered"}'] == 3
    assert values['gifbot_jobs_total{outcome="failed"}'] == 1
    assert values['gifbot_jobs_total{outcome="refused"}'] == 2
    assert values['gifbot_jobs_today{outcome="delivered"}'] == 3
    assert values["gifbot_videos_total"] == 6
    assert (values["gifbot_input_bytes_total"], values["gifbot_output_bytes_total"]) == (6e6, 15e5)
    assert values['gifbot_latency_seconds{quantile="0.5"}'] >= 0
    assert (values["gifbot_users"], values["gifbot_banned_users"]) == (2, 1)


def test_scrape_cost_does_not_grow_with_users(admin: FlaskClient, redis_client: Redis):
    """/metrics, the overview and /api/stats run as many Redis commands for 200 users as for 10."""
    pages = ("/metrics", "/", "/api/stats")
    cost: dict[int, list[int]] = {}
    for start, users in ((1, 10), (11, 200)):
        for user_id in range(start, users + 1):
            seed_user(redis_client, user_id)
        admin.get("/metrics")  # the first scrape may add up an older install's totals, once
        cost[users] = []
        for page in pages:
            redis_client.config_resetstat()
            assert admin.get(page).status_code == 200
            cost[users].append(commands(redis_client))
    assert scrape(admin)["gifbot_videos_total"] == 200
    assert all(big <= small for small, big in zip(cost[10], cost[200], strict=True)), cost
