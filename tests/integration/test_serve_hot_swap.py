"""The endpoint follows the registry's ``production`` alias: a newly approved version is swapped in
while clients hammer it, with no failed request; a version that does not load leaves the old one serving.

Real parts throughout: an MLflow registry (SQLite under ``tmp_path``), real YOLOv8n ONNX packages,
uvicorn on a free port, HTTP clients on several threads.
"""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from qiloop.core.package import write_manifest
from qiloop.edge.runtime import OnnxDetector
from qiloop.protocol.messages import DetectedBox
from serving_helpers import sample_jpegs

NAME = "scratch-detector"
CLIENTS = 4


@pytest.fixture(scope="module")
def packages(tmp_path_factory, yolo_package, yolo_package_v2):
    pytest.importorskip("mlflow", reason="the registry needs the registry extra")
    root = tmp_path_factory.mktemp("hot-swap")
    v1, v2 = yolo_package, yolo_package_v2
    broken = root / "broken"  # the output of a one-class model under a two-class manifest
    shutil.copytree(v2, broken)
    write_manifest(broken, name=NAME, classes=["scratch", "dent"], input_height=64, input_width=96)
    return v1, v2, broken


def register(registry, package):
    with registry.start_candidate_run(NAME, {"epochs": 1}) as run:
        return registry.register(run, package, name=NAME, approval="Approved")


class Hammer:
    """Clients posting one image in a loop, each on its own thread, recording every answer."""

    def __init__(self, url: str, image: tuple[str, bytes]) -> None:
        self.url, self.image = url, image
        self.stop = threading.Event()
        self.answers: list[list[tuple[int, str | None]]] = [[] for _ in range(CLIENTS)]
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENTS)]

    def _run(self, index: int) -> None:
        import httpx

        name, data = self.image
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.is_set():
                try:
                    r = client.post(
                        "/v1/detect", files={"file": (name, data, "image/jpeg")}, params={"confidence": 0.05}
                    )
                    version = r.json().get("model_version") if r.status_code == 200 else None
                    self.answers[index].append((r.status_code, version))
                    if r.status_code != 200:
                        self.failures.append(r.text)
                except Exception as exc:  # a dropped connection is a failed request
                    self.failures.append(repr(exc))

    def count(self, version: str) -> int:
        """Fewest answers from ``version`` that any one client has had."""
        return min(sum(v == version for _, v in answers) for answers in self.answers)

    def wait_for(self, version: str, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.count(version) < n:
            assert time.monotonic() < deadline, f"clients did not get {n} answers from v{version}: {self.answers}"
            assert not self.failures, self.failures[:3]
            time.sleep(0.05)


@pytest.mark.slow
def test_newly_approved_version_swaps_in_without_failing_a_request(tmp_path, packages):
    import httpx

    from qiloop.registry import ModelRegistry
    from qiloop.serving import ModelHolder, RegistrySource, ServeOptions, open_source
    from qiloop.serving.app import create_app
    from qiloop.serving.server import BackgroundServer
    from qiloop.settings import Settings

    v1, v2, broken = packages
    settings = Settings(home=tmp_path / "home")
    publisher = ModelRegistry.from_settings(settings)  # the training side, apart from the server's client
    register(publisher, v1)
    options = ServeOptions(worker_threads=2, poll_s=0.2)
    source = open_source(NAME, settings)
    assert isinstance(source, RegistrySource)
    holder = ModelHolder.for_options(source, options)
    holder.refresh()
    image = sample_jpegs(1)[0]
    hammer = Hammer("", image)
    with BackgroundServer(create_app(holder, options)) as server:
        hammer.url = server.url
        for t in hammer.threads:
            t.start()
        try:
            hammer.wait_for("1", 3)
            register(publisher, v2)  # approved: production moves to version 2
            hammer.wait_for("2", 3)
            register(publisher, broken)  # approved too, but its model contradicts its manifest
            deadline = time.monotonic() + 60
            while holder.load_failures == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            served_after_failure = hammer.count("2")
            hammer.wait_for("2", served_after_failure + 3)
        finally:
            hammer.stop.set()
            for t in hammer.threads:
                t.join(60)
        with httpx.Client(base_url=server.url) as client:
            health = client.get("/healthz").json()
            metrics = client.get("/metrics").text
            body = client.post("/v1/detect", files={"file": (image[0], image[1], "image/jpeg")}).json()

    assert hammer.failures == []
    for answers in hammer.answers:
        assert all(status == 200 for status, _ in answers)
        versions = [v for _, v in answers]
        first_v2 = versions.index("2")
        assert set(versions[:first_v2]) == {"1"} and set(versions[first_v2:]) == {"2"}, versions
    assert (holder.swaps, holder.load_failures, holder.current.version) == (1, 1, "2")
    assert holder.last_error.startswith(f"{NAME} v3 does not load") and "2 class" in holder.last_error
    assert health == {"status": "ok", "model_name": NAME, "model_version": "2", "detail": None}
    assert "qiloop_serve_model_swaps_total 1.0" in metrics and "qiloop_serve_model_load_failures_total 1.0" in metrics
    assert f'qiloop_serve_model_info{{file="model.onnx",name="{NAME}",version="2"}} 1.0' in metrics
    reference = OnnxDetector.from_package(v2, threads=1)
    want = [b.model_dump() for b in DetectedBox.from_detections(reference.detect(image[1]), reference.classes)]
    assert body["detections"] == want and body["model_version"] == "2"
    cache = settings.home / "serving" / "models" / NAME
    assert sorted(p.name for p in cache.iterdir()) == ["1", "2", "3"]
    # a cached, verified package is reused, not downloaded again
    release = source.latest()
    before = (cache / "2" / "model.onnx").stat().st_mtime_ns
    publisher.reject(f"{NAME}/3", reason="does not load")
    release = source.latest()
    assert release.version == "2" and source.fetch(release) == cache / "2"
    assert (cache / "2" / "model.onnx").stat().st_mtime_ns == before
