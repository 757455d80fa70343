"""The harness checks itself: hostile files are what they claim; the fake judge and /proc work."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.reliability import hostile
from tests.reliability.fake_judge import JudgeBehaviour, fake_judge, quality_image
from tests.reliability.server import child_pids, group_members, is_alive


def test_polyglot_jpeg_opens_as_image_and_carries_html() -> None:
    """The polyglots must be real JPEGs, or the tests that use them prove nothing."""
    for data in (hostile.polyglot_jpeg_html(), hostile.polyglot_jpeg_zip()):
        assert data.startswith(b"\xff\xd8\xff")
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.format == "JPEG"
    assert hostile.SCRIPT_PAYLOAD in hostile.polyglot_jpeg_html()
    assert zipfile.ZipFile(io.BytesIO(hostile.polyglot_jpeg_zip())).namelist() == ["payload.html"]


def test_metadata_images_carry_the_model_name() -> None:
    """Images built to leak a model name really carry it in EXIF / PNG text chunks."""
    name = "SecretModel-XL"
    png = hostile.image_naming_model(name, "png", (1, 2, 3))
    jpeg = hostile.image_naming_model(name, "jpeg", (1, 2, 3))
    with Image.open(io.BytesIO(png)) as image:
        assert name in image.text["Software"]
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.getexif()[hostile.EXIF_SOFTWARE] == name
    assert name.encode() in png and name.encode() in jpeg


def test_zip_member_names_are_kept_verbatim() -> None:
    """Traversal names survive into the archive (zipfile would otherwise strip a leading '/')."""
    names = hostile.traversal_names("escaped")
    data = hostile.zip_bytes({name: b"x" for name in names})
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == names


def test_oversized_and_truncated_files() -> None:
    """The oversized file is just over the limit; the truncated one keeps only its header."""
    assert len(hostile.oversized_png(10_000)) == 10_001
    png = hostile.png_bytes(size=(64, 64))
    cut = hostile.truncated(png)
    assert cut.startswith(b"\x89PNG") and len(cut) < len(png)
    with pytest.raises(OSError), Image.open(io.BytesIO(cut)) as image:
        image.load()


def test_fake_judge_serves_faults_in_order_then_the_true_order() -> None:
    """Each distinct request meets the scripted faults, then a noise-free answer."""
    images = [quality_image(q) for q in (50, 200, 120)]
    parts = [
        {
            "type": "image_url",
            "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(i).decode()},
        }
        for i in images
    ]
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "rank"}, *parts]}],
    }
    behaviour = JudgeBehaviour(faults=("429", "500", "empty_body", "malformed_prose"))
    with (
        fake_judge(behaviour) as judge,
        httpx.Client(base_url=judge.base_url, timeout=10) as client,
    ):
        statuses = [client.post("/chat/completions", json=body).status_code for _ in range(4)]
        final = client.post("/chat/completions", json=body)
    assert statuses == [429, 500, 200, 200]
    assert json.loads(final.text)["choices"][0]["message"]["content"] == "Image 2, Image 3, Image 1"
    assert judge.log.requests == 5 and sum(judge.log.good_answers.values()) == 1


def test_proc_scan_finds_spawned_children_and_group() -> None:
    """child_pids and group_members see a real process tree; the whole group dies on SIGKILL."""
    code = (
        "import multiprocessing as mp, time\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('spawn')\n"
        "    ps = [ctx.Process(target=time.sleep, args=(30,)) for _ in range(2)]\n"
        "    [p.start() for p in ps]\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        spawned = [
            pid
            for pid in child_pids(proc.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(spawned) == 2
        assert set(spawned) | {proc.pid} <= set(group_members(proc.pid))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    for _ in range(100):
        if not any(is_alive(pid) for pid in spawned):
            break
        time.sleep(0.1)
    assert not any(is_alive(pid) for pid in spawned)
