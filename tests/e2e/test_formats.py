"""Files from cameras, old phones, DVDs and programs, sent to the bot as Telegram delivers them,
come back as GIFs at the shape a player shows: real bot and worker processes, Redis, ffmpeg."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from tests import devices, factories
from tests.gifcheck import all_done, gif_info
from tests.services import wait_until

ASPECT_TOLERANCE = 0.02
# Sent through the stack with the kind and MIME type tests/devices.py gives each (typeless ones too).
SENT = ("camcorder-avchd", "dvd-pal-16x9", "flash", "old-phone-h263", "windows-media", "iphone-hlg")
_user_ids = itertools.count(75_000)


def test_device_files_sent_as_telegram_delivers_them_come_back_at_their_shape(
    stack, fake_api, redis_client, tmp_path: Path
):
    """AVCHD .MTS and DVD .VOB (octet-stream documents), FLV, 3GP, WMV and an iPhone HLG video each
    give one GIF at the display aspect ratio, within 2 %."""
    stack.bot()
    stack.worker()
    stack.worker()
    chosen = [d for d in devices.DEVICES if d.name in SENT]
    updates = {}
    for device in chosen:
        record = fake_api.add_file(devices.make(device, tmp_path / "corpus").read_bytes())
        user = next(_user_ids)
        updates[device.name] = factories.make_video_update(
            record, kind=device.kind, mime_type=device.mime_type, file_name=device.file_name, user_id=user
        )
    pushed = time.monotonic()
    fake_api.push_updates(list(updates.values()))
    chats = {name: u["message"]["chat"]["id"] for name, u in updates.items()}
    fake_api.wait_for(
        lambda: all(fake_api.sent_animations(chat) for chat in chats.values()), timeout=120, message="GIFs"
    )
    messages = [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates.values()]
    wait_until(lambda: all_done(redis_client, messages), timeout=30, what="jobs to end")
    print("\n| sent as | file | GIF | GIF aspect / display aspect | bytes | pushed to GIF |")
    problems = []
    for device in chosen:
        [call] = fake_api.sent_animations(chats[device.name])
        data = next(iter(call.files.values()))
        gif = gif_info(data)
        shape = gif.width / gif.height
        print(
            f"| {device.kind} {device.mime_type} | {device.file_name} | {gif.width}x{gif.height} "
            f"| {shape:.3f} / {device.aspect:.3f} | {len(data)} | {call.at - pushed:.1f} s |"
        )
        if abs(shape / device.aspect - 1) > ASPECT_TOLERANCE or gif.frames < 10:
            problems.append(f"{device.name}: {gif}")
        if len(fake_api.sent_animations(chats[device.name])) != 1:
            problems.append(f"{device.name}: not exactly one GIF")
    assert not problems, problems
