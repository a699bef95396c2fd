"""The panel's numbers match what really happened: videos sent through real bot and worker processes."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from redis import Redis

from tests import factories
from tests.admin.helpers import EVIL_NAME
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import all_done
from tests.services import Stack, wait_until

ALICE, BOB = 91_001, 91_002
BROKEN = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 16  # an mp4 header and then garbage


def send(fake_api: FakeTelegramAPI, user_id: int, data: bytes, **user_fields: str) -> tuple[int, int]:
    """One video update from `user_id`; returns (chat, message)."""
    record = fake_api.add_file(data)
    sender = factories.make_user(user_id, **user_fields)
    update = factories.make_video_update(record, user_id=user_id, **{"from": sender})
    fake_api.push_update(update)
    return user_id, update["message"]["message_id"]


def row_cells(html: str, user_id: int) -> list[str]:
    """The text of each cell of one user's row in the users table."""
    row = html[html.index(f'<tr data-user-id="{user_id}">') :].split("</tr>")[0]
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_users_stats_match_the_videos_that_went_through_the_pipeline(
    stack: Stack, fake_api: FakeTelegramAPI, redis_client: Redis, admin: FlaskClient, clip_bytes: bytes
):
    """Alice sends two good clips and a broken file, Bob one clip: the API and users page agree."""
    stack.bot()
    stack.worker()
    messages = [
        send(fake_api, ALICE, clip_bytes, first_name=EVIL_NAME, username="alice_gif"),
        send(fake_api, ALICE, BROKEN, first_name=EVIL_NAME, username="alice_gif"),
        send(fake_api, ALICE, clip_bytes, first_name=EVIL_NAME, username="alice_gif"),
        send(fake_api, BOB, clip_bytes, first_name="Bob", username="bob"),
    ]
    wait_until(lambda: all_done(redis_client, messages), timeout=120, what="every job ended")

    def alice() -> dict:
        return admin.get(f"/api/users/{ALICE}").get_json()

    wait_until(lambda: alice()["user"]["delivered"] + alice()["user"]["refused"] == 3, 30, what="stats")
    data = alice()
    user = data["user"]
    assert (user["videos"], user["delivered"], user["failed"], user["refused"]) == (3, 2, 0, 1)
    assert user["bytes_in"] == 2 * len(clip_bytes) + len(BROKEN)
    gifs = fake_api.sent_animations(ALICE)
    assert len(gifs) == 2 and user["bytes_out"] > 0
    assert user["median_seconds"] is not None and user["median_seconds"] > 0
    assert sorted(j["status"] for j in data["jobs"]) == ["delivered", "delivered", "refused"]
    assert [j["reason"] for j in data["jobs"] if j["status"] == "refused"] == ["error_broken"]
    assert all(j["latency"] and j["latency"] > 0 for j in data["jobs"])

    page = admin.get("/users").get_data(as_text=True)
    cells = row_cells(page, ALICE)
    assert cells[1] == "@alice_gif" and EVIL_NAME not in page
    assert cells[3:7] == ["3", "2", "0", "1"]
    assert cells[7] == f"{user['bytes_in'] / 1048576:.2f}"
    assert row_cells(page, BOB)[3:7] == ["1", "1", "0", "0"]

    totals = admin.get("/api/stats").get_json()["today"]
    assert (totals["videos"], totals["delivered"], totals["refused"]) == (4, 3, 1)
    assert totals["p50"] is not None
