"""The panel's pages: overview, users table (search, sort, pages), one user with ban and quota forms."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from redis import Redis

from admin import userlist
from core import hourly, keys, limits, stats
from tests.admin.helpers import busy_worker, csrf_token, enqueue_jobs, seed_user

ROW = re.compile(r'<tr data-user-id="(\d+)">')


def user_ids(html: str) -> list[int]:
    """The user ids of the users table's rows, in order."""
    return [int(i) for i in ROW.findall(html)]


def seed_three(redis: Redis) -> None:
    seed_user(redis, 1, username="alice", first_name="Alice", delivered=3)
    seed_user(redis, 2, username="bob", first_name="Bob", delivered=1, failed=2)
    seed_user(redis, 3, username="carol", first_name="Carol", delivered=0, refused=1)


def test_users_page_shows_each_users_counters(admin: FlaskClient, redis_client: Redis):
    """Videos, GIFs, failed, refused, MB in and out, median seconds for each user."""
    seed_three(redis_client)
    html = admin.get("/users").get_data(as_text=True)
    assert sorted(user_ids(html)) == [1, 2, 3]
    bob = html[html.index('data-user-id="2"') :].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", bob, re.S)
    assert [c.strip() for c in cells[3:10]] == ["3", "1", "2", "0", "2.86", "0.48", "2.0 s"]
    assert "@bob" in cells[1] and "Bob" in cells[2]


def test_users_page_searches_by_username_name_or_id(admin: FlaskClient, redis_client: Redis):
    """?q= matches part of a username (with or without @), a name, or an id."""
    seed_three(redis_client)
    assert user_ids(admin.get("/users?q=@ali").get_data(as_text=True)) == [1]
    assert user_ids(admin.get("/users?q=CAROL").get_data(as_text=True)) == [3]
    assert user_ids(admin.get("/users?q=2").get_data(as_text=True)) == [2]
    assert "No user matches." in admin.get("/users?q=nobody").get_data(as_text=True)


def test_users_page_sorts_by_any_column(admin: FlaskClient, redis_client: Redis):
    """?sort=&order= orders the rows; an unknown column falls back to last seen."""
    seed_three(redis_client)
    assert user_ids(admin.get("/users?sort=delivered&order=desc").get_data(as_text=True)) == [1, 2, 3]
    assert user_ids(admin.get("/users?sort=failed&order=desc").get_data(as_text=True))[0] == 2
    assert user_ids(admin.get("/users?sort=username&order=asc").get_data(as_text=True)) == [1, 2, 3]
    assert user_ids(admin.get("/users?sort=evil&order=sideways").get_data(as_text=True)) == [3, 2, 1]


def test_user_list_is_paged(redis_client: Redis):
    """find_users cuts pages and clamps a page number past the end."""
    for uid in range(1, 8):
        seed_user(redis_client, uid)
    query = userlist.UserQuery.from_args({"sort": "id", "order": "asc", "page": "9"})
    page = userlist.find_users(redis_client, query, page_size=3)
    assert (page.total, page.pages, page.page, [u.user_id for u in page.users]) == (7, 3, 3, [7])


def test_user_page_lists_recent_jobs_with_outcome_and_reason(admin: FlaskClient, redis_client: Redis):
    """Each recent job shows its status, sizes and the failure reason in an admin's words, not its key."""
    seed_user(redis_client, 2, username="bob", delivered=1, failed=1)
    html = admin.get("/users/2").get_data(as_text=True)
    assert html.count('<span class="badge delivered">') == 1
    assert html.count('<span class="badge failed">') == 1
    assert "broken or incomplete video" in html and "gif_2_1" in html and "0.95" in html
    assert "error_broken" not in html


def test_ban_and_unban_from_the_user_page(admin: FlaskClient, redis_client: Redis):
    """The ban button bans (the page then says so), the unban button lifts it."""
    seed_user(redis_client, 2)
    token = {"csrf_token": csrf_token(admin)}
    page = admin.post("/users/2/ban", data=token, follow_redirects=True).get_data(as_text=True)
    assert limits.is_banned(redis_client, 2)
    assert "User 2 is banned." in page and "Unban" in page
    assert stats.user_stats(redis_client, 2).banned
    admin.post("/users/2/unban", data=token)
    assert not limits.is_banned(redis_client, 2)


def test_quota_form_sets_and_clears_overrides(admin: FlaskClient, redis_client: Redis, settings):
    """Saving limits overrides them (empty fields untouched); clearing restores the defaults."""
    seed_user(redis_client, 2)
    token = csrf_token(admin)
    admin.post("/users/2/quota", data={"csrf_token": token, "max_active": "1", "per_hour": ""})
    user_limits = limits.limits_for(redis_client, 2, settings)
    assert (user_limits.max_active, user_limits.per_hour) == (1, settings.hourly_quota)
    page = admin.get("/users/2").get_data(as_text=True)
    assert "1 at once" in page and "custom" in page
    admin.post("/users/2/quota/clear", data={"csrf_token": token})
    assert not redis_client.exists(keys.quota(2))


def test_quota_form_refuses_bad_numbers(admin: FlaskClient, redis_client: Redis):
    """Zero, negatives, text and huge numbers are refused with a message; nothing is stored."""
    seed_user(redis_client, 2)
    token = csrf_token(admin)
    for bad in ("0", "-1", "ten", "99999999"):
        page = admin.post(
            "/users/2/quota", data={"csrf_token": token, "per_hour": bad}, follow_redirects=True
        ).get_data(as_text=True)
        assert "Limits must be whole numbers" in page, bad
    assert not redis_client.exists(keys.quota(2))


def test_unknown_user_is_not_found(admin: FlaskClient):
    """A user the bot never saw: 404 for the page and the controls."""
    assert admin.get("/users/999").status_code == 404
    assert admin.post("/users/999/ban", data={"csrf_token": csrf_token(admin)}).status_code == 404


def test_overview_shows_totals_charts_queue_and_workers(admin: FlaskClient, redis_client: Redis):
    """Today's totals, three SVG charts, the queue's counts and each worker's state."""
    seed_user(redis_client, 1, delivered=3, failed=1)
    hourly.record_depth(redis_client, 4)
    enqueue_jobs(redis_client, 2)
    _worker, job = busy_worker(redis_client, name="box-1.worker-0")
    html = admin.get("/").get_data(as_text=True)
    for chart in ("jobs", "depth", "latency"):
        assert f'<svg class="chart" data-chart="{chart}"' in html
    today = html[html.index('id="today"') : html.index('id="queue"')]
    assert re.findall(r'<div class="value">([^<]*)</div>', today)[:4] == ["4", "3", "1", "0"]
    assert "box-1.worker-0" in html and '<span class="badge busy">busy</span>' in html
    assert f"/rq/0/view/job/{job.id}" in html
    assert "RQ dashboard" in html and 'href="/rq/"' in html
