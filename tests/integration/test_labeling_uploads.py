"""Image uploads over HTTP: the admin's JSON route, the upload page, the size limit, who may upload.

A real service on a free port with a real image store and database, driven with
multipart requests the way ``curl -F`` and a browser's form send them.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib

import httpx
import pytest
from PIL import Image

from labeling_helpers import png
from labeling_web_helpers import running_service
from qiloop.labeling.api.config import WebOptions
from qiloop.labeling.jobs import get_job

pytestmark = pytest.mark.slow

API = "/api/v1/admin/images"
LIMIT_MIB = 1.0


def jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (48, 32), bytes((seed * 7 + i) % 253 for i in range(48 * 32 * 3))).save(out, "JPEG")
    return out.getvalue()


def bomb() -> bytes:
    data = bytearray(png(1, (8, 8)))
    struct.pack_into(">II", data, 16, 90_000, 90_000)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def parts(*files: tuple[str, bytes]) -> list:
    return [("files", (name, data, "application/octet-stream")) for name, data in files]


@pytest.fixture
def service(tmp_path):
    with running_service(tmp_path, images=2, options=WebOptions(labeling_max_upload_mib=LIMIT_MIB)) as svc:
        yield svc


def uploaded(service) -> set[str]:
    service.images.refresh()
    return {r.sha256 for r in service.images.list(source="upload")}


def test_the_api_stores_good_files_reports_bad_ones_and_the_status_says_how_it_went(service):
    ada = service.api("ada")
    good = [("a.jpg", jpeg(1)), ("b.png", png(11))]
    bad = [("notes.jpg", b"not an image at all, just text\n"), ("cut.png", png(12)[:300]), ("bomb.png", bomb())]
    response = ada.post(API, files=parts(*good, *bad, ("again.png", png(11))), data={"group": "lot-9"})
    assert response.status_code == 207, response.text
    body = response.json()
    assert (body["stored"], body["duplicates"], body["rejected"]) == (2, 1, 3)
    rows = {f["name"]: f for f in body["files"]}
    assert rows["a.jpg"]["outcome"] == "stored" and (rows["a.jpg"]["width"], rows["a.jpg"]["height"]) == (48, 32)
    assert rows["again.png"]["outcome"] == "duplicate" and rows["again.png"]["sha256"] == rows["b.png"]["sha256"]
    assert "not a JPEG, PNG, BMP, TIFF or WebP" in rows["notes.jpg"]["error"] and rows["notes.jpg"]["hint"]
    assert "truncated" in rows["cut.png"]["error"]
    assert "decompression bomb" in rows["bomb.png"]["error"] and "QILOOP_MAX_IMAGE_PIXELS" in rows["bomb.png"]["hint"]
    assert uploaded(service) == {rows["a.jpg"]["sha256"], rows["b.png"]["sha256"]}
    record = service.images.get(rows["a.jpg"]["sha256"])
    assert (record.source, record.group, record.original_name) == ("upload:ada", "lot-9", "a.jpg")

    assert ada.post(API, files=parts(("b.png", png(11)))).status_code == 200  # nothing new
    assert ada.post(API, files=parts(("c.png", png(13)))).status_code == 201
    refused = ada.post(API, files=parts(*bad))
    assert refused.status_code == 422 and refused.json()["rejected"] == 3
    empty = ada.post(API, data={"group": "x"}, files=parts())
    assert empty.status_code in (400, 422) and len(uploaded(service)) == 3


def test_an_upload_can_start_a_labelling_job(service):
    ada = service.api("ada")
    form = {"job": "uploads-1", "classes": "scratch, dent", "annotators": "2"}
    response = ada.post(API, files=parts(("a.png", png(21)), ("b.png", png(22))), data=form)
    assert response.status_code == 201, response.text
    assert response.json()["job"] == {"name": "uploads-1", "images": 2, "classes": ["scratch", "dent"]}
    with service.db.session() as session:
        assert get_job(session, "uploads-1").annotators_per_image == 2
    taken = ada.post(API, files=parts(("c.png", png(23))), data={"job": "uploads-1"})
    assert taken.status_code == 400 and "already exists" in taken.json()["message"]
    assert service.images.find(hashlib.sha256(png(23)).hexdigest()) is None
    bad_name = ada.post(API, files=parts(("c.png", png(23))), data={"job": "no spaces allowed"})
    assert bad_name.status_code == 400 and "job" in bad_name.json()["message"]
    assert len(uploaded(service)) == 2


def test_a_request_above_the_limit_gets_413_before_its_body_is_read(service):
    ada = service.api("ada")
    big = bytes(int(LIMIT_MIB * 1024 * 1024) + 1)
    declared = ada.post(API, files=parts(("big.png", big)))
    assert declared.status_code == 413
    assert "above the limit of 1.0 MiB" in declared.json()["message"]
    assert "QILOOP_LABELING_MAX_UPLOAD_MIB" in declared.json()["hint"]

    def chunks():  # no Content-Length: counted while it streams in
        boundary = b"--qiloop-test"
        yield boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\n\r\n'
        for _ in range(40):
            yield bytes(64 * 1024)
        yield b"\r\n" + boundary + b"--\r\n"

    headers = {"Content-Type": "multipart/form-data; boundary=qiloop-test"}
    streamed = ada.post(API, content=chunks(), headers=headers)
    assert streamed.status_code == 413 and "above the limit" in streamed.json()["message"]
    page = service.browser("ada").post("/admin/images", files=parts(("big.png", big)))
    assert page.status_code == 413 and "above the limit of 1.0 MiB" in page.text
    assert uploaded(service) == set()
    assert ada.post(API, files=parts(("small.png", png(31)))).status_code == 201  # the service carries on


def test_only_admins_upload_and_their_bodies_are_never_parsed_for_others(service):
    for user, status in ((None, 401), ("alice", 403), ("vera", 403)):
        assert service.api(user).post(API, files=parts(("a.png", png(41)))).status_code == status
        if user is not None:
            assert service.browser(user).post("/admin/images", files=parts(("a.png", png(41)))).status_code == 403
            assert service.browser(user).get("/admin/images").status_code == 403
    assert uploaded(service) == set()


def test_the_upload_form_needs_the_session_csrf_token(service):
    ada = service.browser("ada")
    token = ada.headers.pop("X-CSRF-Token")
    for sent in ({}, {"csrf_token": ""}, {"csrf_token": token[:-1]}):
        refused = ada.post("/admin/images", data=sent, files=parts(("a.png", png(51))))
        assert refused.status_code == 403 and "CsrfError" in refused.text
    assert uploaded(service) == set()
    page = ada.get("/admin/images")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert re.search(rf'name="csrf_token" value="{re.escape(token)}"', page.text)
    response = ada.post("/admin/images", data={"csrf_token": token}, files=parts(("a.png", png(51)), ("x.jpg", b"no")))
    assert response.status_code == 207
    assert 'class="stored"' in response.text and 'class="rejected"' in response.text
    assert "not a JPEG, PNG, BMP, TIFF or WebP" in response.text and len(uploaded(service)) == 1


def test_the_form_shows_why_a_request_was_refused(service):
    ada = service.browser("ada")
    response = ada.post("/admin/images", data={"job": "job-1"}, files=parts(("a.png", png(61))))
    assert response.status_code == 400 and "already exists" in response.text and 'role="alert"' in response.text
    nothing = ada.post("/admin/images", data={}, files=[("files", ("", b"", "application/octet-stream"))])
    assert nothing.status_code == 400 and "no file" in nothing.text
    assert uploaded(service) == set()


def test_the_admin_navigation_links_the_upload_page(service):
    assert 'href="/admin/images"' in service.browser("ada").get("/admin").text
    assert 'href="/admin/images"' not in service.browser("alice").get("/jobs").text


def test_anonymous_upload_page_redirects_to_login(service):
    response = httpx.get(service.url + "/admin/images", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
