"""The endpoint over real sockets: the same detections as the device runtime, batches, bad input, health, metrics."""

from __future__ import annotations

import pytest

from qiloop.edge.runtime import OnnxDetector
from qiloop.protocol.messages import DetectedBox
from serving_helpers import png, sample_jpegs


@pytest.fixture(scope="module")
def images():
    return sample_jpegs(3)


@pytest.fixture(scope="module")
def reference(serve_package):
    return OnnxDetector.from_package(serve_package, threads=1)


def expected(reference, data, **overrides) -> list[dict]:
    found = reference.detect(data, **overrides)
    return [b.model_dump() for b in DetectedBox.from_detections(found, reference.classes)]


@pytest.mark.parametrize("overrides", [{}, {"confidence": 0.05}, {"confidence": 0.05, "iou": 0.2}])
def test_detect_matches_the_device_runtime(client, images, reference, overrides):
    name, data = images[0]
    response = client.post("/v1/detect", files={"file": (name, data, "image/jpeg")}, params=overrides)
    assert response.status_code == 200, response.text
    body = response.json()
    want = expected(reference, data, **overrides)
    assert body["detections"] == want
    if overrides.get("confidence") == 0.05:
        assert len(want) > 0, "the comparison must cover some boxes"
    thresholds = reference.manifest.thresholds
    assert (body["model_name"], body["model_version"]) == ("test-detector", "1")
    assert body["image"] == {"name": name, "width": 450, "height": 300}
    assert body["confidence"] == overrides.get("confidence", thresholds.confidence)
    assert body["iou"] == overrides.get("iou", thresholds.iou)
    fails = any(d["score"] >= thresholds.defect for d in want)
    assert body["verdict"] == ("fail" if fails else "pass") and body["defect_threshold"] == thresholds.defect
    assert 0 < body["latency_ms"] < 10_000


def test_batch_answers_in_order_and_isolates_bad_files(client, images, reference):
    files = [
        ("files", (images[0][0], images[0][1], "image/jpeg")),
        ("files", ("notes.txt", b"not an image", "text/plain")),
        ("files", (images[1][0], images[1][1], "image/jpeg")),
        ("files", ("cut.jpg", images[2][1][: len(images[2][1]) // 2], "image/jpeg")),
    ]
    response = client.post("/v1/detect/batch", files=files, params={"confidence": 0.05})
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["items"]
    assert [i["index"] for i in items] == [0, 1, 2, 3] and body["failed"] == 2
    assert [i["filename"] for i in items] == [images[0][0], "notes.txt", images[1][0], "cut.jpg"]
    assert [i["status"] for i in items] == [200, 422, 200, 422]
    for item, (_, data) in ((items[0], images[0]), (items[2], images[1])):
        assert item["error"] is None and item["result"]["detections"] == expected(reference, data, confidence=0.05)
    assert items[1]["result"] is None and "notes.txt: not a readable image" in items[1]["error"]["message"]
    assert "truncated" in items[3]["error"]["message"] and items[3]["error"]["hint"]


def test_batch_over_the_file_limit_is_refused(client, images):
    files = [("files", (f"{i}.jpg", images[0][1], "image/jpeg")) for i in range(5)]
    response = client.post("/v1/detect/batch", files=files)
    assert response.status_code == 413
    assert "5 files is more than the limit of 4" in response.json()["message"]


@pytest.mark.parametrize(
    ("upload", "params", "status", "says"),
    [
        (("a.txt", b"plain text, not pixels", "text/plain"), {}, 422, "a.txt: not a readable image"),
        (("empty.jpg", b"", "image/jpeg"), {}, 422, "empty.jpg: the file is empty"),
        ("truncated", {}, 422, "truncated"),
        (("big.jpg", b"\xff" * ((1 << 20) + 1), "image/jpeg"), {}, 413, "larger than the limit of 1048576 bytes"),
        (("huge.png", png(2100, 2000), "image/png"), {}, 413, "2100x2000 is 4200000 pixels"),
        ("image", {"confidence": 1.5}, 422, "query.confidence: Input should be less than or equal to 1"),
        ("image", {"iou": "high"}, 422, "query.iou: Input should be a valid number"),
    ],
)
def test_bad_input_gets_4xx_saying_what_is_wrong(client, images, upload, params, status, says):
    name, data = images[0]
    if upload == "truncated":
        upload = (name, data[: len(data) // 3], "image/jpeg")
    elif upload == "image":
        upload = (name, data, "image/jpeg")
    response = client.post("/v1/detect", files={"file": upload}, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert says in body["message"] and body["hint"] and body["error"]


def test_missing_file_field_and_oversized_body(client, images):
    response = client.post("/v1/detect", data={"image": "x"})
    assert response.status_code == 422 and "body.file: Field required" in response.json()["message"]
    # 4 files x 1 MB + 1 MB of framing is the most any request may carry; this body is refused unread
    response = client.post("/v1/detect", content=b"\0" * (6 << 20), headers={"content-type": "application/x-bytes"})
    assert response.status_code == 413 and "request body is larger" in response.json()["message"]


def test_healthz_model_and_metrics(client, images, server):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["model_version"] == "1"
    model = client.get("/v1/model").json()
    assert (model["name"], model["model_file"], model["sessions"], model["classes"]) == (
        "test-detector",
        "model.onnx",
        2,
        ["scratch"],
    )
    assert (model["input_height"], model["input_width"]) == (64, 96) and model["thresholds"]["defect"] == 0.5
    client.post("/v1/detect", files={"file": ("x.txt", b"nope", "text/plain")})
    client.post("/v1/detect", files={"file": (images[0][0], images[0][1], "image/jpeg")})
    text = client.get("/metrics").text
    assert 'qiloop_serve_model_info{file="model.onnx",name="test-detector",version="1"} 1.0' in text
    assert 'qiloop_serve_requests_total{route="/v1/detect",status="200"}' in text
    assert 'qiloop_serve_requests_total{route="/v1/detect",status="422"}' in text
    assert 'qiloop_serve_errors_total{kind="ImageRejectedError"}' in text
    assert 'qiloop_serve_request_seconds_count{route="/v1/detect"}' in text
    assert "qiloop_serve_model_swaps_total 0.0" in text
    client.get("/no/such/page")
    assert 'route="unmatched",status="404"' in client.get("/metrics").text


def test_without_a_model_health_and_detect_answer_503(serve_package, images):
    import httpx

    from qiloop.serving import ModelHolder, PackageSource, ServeOptions
    from qiloop.serving.app import create_app
    from qiloop.serving.server import BackgroundServer

    options = ServeOptions(worker_threads=1, poll_s=0)
    holder = ModelHolder.for_options(PackageSource(serve_package), options)  # not loaded yet
    with BackgroundServer(create_app(holder, options)) as srv, httpx.Client(base_url=srv.url) as c:
        assert c.get("/healthz").status_code == 503
        response = c.post("/v1/detect", files={"file": (images[0][0], images[0][1], "image/jpeg")})
        assert response.status_code == 503 and "no model is loaded yet" in response.json()["message"]
        assert response.headers["retry-after"] == "1"
        assert c.get("/v1/model").status_code == 503
        assert "qiloop_serve_model_loaded 0.0" in c.get("/metrics").text
        holder.refresh()
        assert c.get("/healthz").status_code == 200
        assert c.post("/v1/detect", files={"file": (images[0][0], images[0][1], "image/jpeg")}).status_code == 200


def test_int8_model_is_served(serve_package, images):
    import httpx

    from serving_helpers import serve_package as start

    srv = start(serve_package, worker_threads=1, int8=True)
    try:
        with httpx.Client(base_url=srv.url) as c:
            assert c.get("/v1/model").json()["model_file"] == "model.int8.onnx"
            body = c.post("/v1/detect", files={"file": (images[0][0], images[0][1], "image/jpeg")}).json()
        reference = OnnxDetector.from_package(serve_package, threads=1, int8=True)
        assert body["detections"] == expected(reference, images[0][1])
    finally:
        srv.stop()


def test_admission_is_bounded_and_freed_by_the_workers(serve_package, images):
    import httpx

    from qiloop.serving import ModelHolder, PackageSource, ServeOptions
    from qiloop.serving.app import create_app
    from qiloop.serving.server import BackgroundServer

    options = ServeOptions(worker_threads=1, poll_s=0, max_pending=2)
    holder = ModelHolder.for_options(PackageSource(serve_package), options)
    holder.refresh()
    app = create_app(holder, options)
    service = app.state.service
    upload = {"file": (images[0][0], images[0][1], "image/jpeg")}
    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url) as c:
        service.admit(2)  # two images in progress: the limit
        response = c.post("/v1/detect", files=upload)
        assert response.status_code == 503 and "the server is busy (2 images in progress)" in response.json()["message"]
        files = [("files", (n, d, "image/jpeg")) for n, d in images[:2]]
        assert c.post("/v1/detect/batch", files=files).status_code == 503
        service._pending = 0  # the two reserved above never ran
        assert [c.post("/v1/detect", files=upload).status_code for _ in range(3)] == [200, 200, 200]
        assert c.post("/v1/detect/batch", files=files).json()["failed"] == 0
        assert service._pending == 0
