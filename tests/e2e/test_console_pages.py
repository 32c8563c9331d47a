"""The console end to end in Chromium: every page over real stores, a real MLflow registry and the fleet's databases.

One service per module, seeded like a loop that turned once: synthetic tag images
(one sent back by a device), approved, rejected and pending labels, a labelling
job, two registered model versions (the first approved by the gate, the second a
candidate), two devices on a line (one silent), a rollout, status reports and
inspection results. With ``QILOOP_DOCS_SCREENSHOTS=1`` the screenshots go to
``docs/console/*.png``; otherwise to the test's temp folder.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from browser_helpers import chromium, log_in, synth_images
from labeling_web_helpers import running_service

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"
MODEL = "scratch-detector"


def shots(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("QILOOP_DOCS_SCREENSHOTS") == "1" else tmp_path


# -- seeding --------------------------------------------------------------------------------------


def seed_labels(service, records, truth) -> list[int]:
    """Two rounds of labels; returns the label-store version after each (what the two models train on)."""
    from qiloop.core.records import LabelRecord, LabelSource, LabelStatus

    now = datetime.now(timezone.utc)

    def record(image, status, minutes_ago, job="tags-1", verifier="vera"):
        return LabelRecord(
            image_uri=image.uri, image_sha256=image.sha256, image_width=image.width, image_height=image.height,
            image_depth=image.depth, annotations=truth[image.sha256], event_time=now - timedelta(minutes=minutes_ago),
            labeling_job=job, status=status, annotators=("alice", "bob"), verifier=verifier, source=LabelSource.HUMAN,
        )  # fmt: skip

    service.labels.append(
        [record(records[0], LabelStatus.REJECTED, 30), record(records[1], LabelStatus.APPROVED, 25),
         record(records[2], LabelStatus.APPROVED, 25), record(records[3], LabelStatus.PENDING_VERIFICATION, 20)]
    )  # fmt: skip
    versions = [service.labels.version()]
    service.labels.append([record(records[0], LabelStatus.APPROVED, 10, job="tags-2")])  # the second round
    versions.append(service.labels.version())
    return versions


def approve_after_training(service, records, truth) -> None:
    """A label approved after the newest model was trained."""
    from qiloop.core.records import LabelRecord, LabelSource, LabelStatus

    image = records[3]
    service.labels.append([LabelRecord(
        image_uri=image.uri, image_sha256=image.sha256, image_width=image.width, image_height=image.height,
        image_depth=image.depth, annotations=truth[image.sha256], event_time=datetime.now(timezone.utc),
        labeling_job="tags-2", status=LabelStatus.APPROVED, annotators=("carl",), verifier="vera",
        source=LabelSource.HUMAN,
    )])  # fmt: skip


def seed_registry(settings, tmp: Path, label_versions: list[int]) -> None:
    """Two versions: 1 approved by the gate (production), 2 a candidate whose gate passed against 1."""
    from qiloop.core.models import ApprovalStatus
    from qiloop.core.package import write_manifest
    from qiloop.registry import ModelRegistry

    registry = ModelRegistry.from_settings(settings)
    figures = [{"mAP50": 0.71, "mAP50-95": 0.33, "precision": 0.81, "recall": 0.64},
               {"mAP50": 0.79, "mAP50-95": 0.38, "precision": 0.84, "recall": 0.73}]  # fmt: skip
    for k, metrics in enumerate(figures, start=1):
        folder = tmp / f"package-{k}"
        folder.mkdir()
        (folder / "model.onnx").write_bytes(os.urandom(2048))
        write_manifest(
            folder,
            name=MODEL,
            classes=["scratch"],
            input_width=448,
            input_height=320,
            metrics=metrics,
            dataset_snapshot={"fingerprint": f"{k}" * 16},
            label_store_version=label_versions[k - 1],
            git_commit="c0ffee1",
        )
        with registry.start_candidate_run(MODEL, {"epochs": 30, "imgsz": 448, "batch": 8}) as run:
            run.set_tags({"gate_passed": "true", "gate_metric": "mAP50",
                          "gate_champion": "none" if k == 1 else f"{MODEL}/1",
                          "gate_reasons": "passed: every check held",
                          "gate_check.min_metric": "pass", "gate_check.min_recall": "pass"})  # fmt: skip
            run.log_metrics({"gate/min_metric": metrics["mAP50"], "gate/min_recall": metrics["recall"]})
            approval = ApprovalStatus.APPROVED if k == 1 else ApprovalStatus.PENDING
            registry.register(run, folder, name=MODEL, approval=approval)
    registry.start_candidate_run(MODEL, {"epochs": 30})  # a third candidate still training: left running


def seed_fleet(settings, records) -> None:
    """cam-1 (online, line-a) with an hour of status reports and results; cam-2 (line-a) silent for an hour."""
    from qiloop.core.deployments import ComponentRef, Target
    from qiloop.fleet.registry_db import FleetDB
    from qiloop.fleet.results_db import ResultsDB
    from qiloop.fleet.rollout import Phase, Rollout
    from qiloop.protocol.messages import DetectedBox, DeviceStatus, InferenceResult
    from qiloop.protocol.reports import DeviceHello

    now = time.time()
    running = {MODEL: "1", "qiloop-inference": "0.4.0"}
    fleet = FleetDB.from_settings(settings)
    fleet.add_hello(DeviceHello(device_id="cam-1", groups=["line-a"], running=running), at=now)
    fleet.add_hello(DeviceHello(device_id="cam-2", groups=["line-a"], running=running), at=now - 3600)
    refs = [ComponentRef(name=MODEL, version="1", digest="a" * 64)]
    fleet.save_rollout(Rollout(target=Target(kind="group", name="line-a"), components=refs, phase=Phase.SUCCEEDED,
                               created_at=now - 3000, phase_since=now - 2900, devices=["cam-1", "cam-2"],
                               canaries=["cam-1"], outcome={"cam-1": "SUCCEEDED", "cam-2": "SUCCEEDED"},
                               configuration={MODEL: {"settings": {"feedback": {"sample_rate": 0.2}}}}))  # fmt: skip
    fleet.close()
    from qiloop.fleet.alerts import Alert, AlertKind, AlertStore

    alerts = AlertStore.from_settings(settings)
    alerts.open(Alert(AlertKind.DEVICE_OFFLINE, "cam-2", "cam-2 has not been heard from for 3600 s"))
    alerts.close()
    results = ResultsDB.from_settings(settings)
    start = datetime.now(timezone.utc) - timedelta(minutes=55)
    for i in range(12):
        at = start + timedelta(minutes=5 * i)
        results.add_status(
            DeviceStatus(
                device_id="cam-1",
                sequence=1000 + i,
                time=at,
                model_name=MODEL,
                model_version="1",
                images_processed=40 * i,
                defects=4 * i + i // 3,
                defect_rate=round(0.1 + 0.01 * i, 4),
                latency_p50_ms=24 + i % 3,
                latency_p95_ms=31 + i % 4,
                outbox_depth=i % 5,
                outbox_dropped=i // 6,
            )
        )
    for i in range(30):  # fmt: skip
        image = records[i % len(records)]
        boxes = [DetectedBox(class_id=0, class_name="scratch", score=0.42 + 0.01 * i, left=40, top=30, width=120,
                             height=14)] if i % 3 == 0 else []  # fmt: skip
        results.add_result(InferenceResult(device_id="cam-1", sequence=i, time=start + timedelta(minutes=i),
                                           image_name=image.original_name, image_sha256=image.sha256,
                                           model_name=MODEL, model_version="1", detections=boxes,
                                           verdict="fail" if boxes else "pass", latency_ms=25.0 + i % 4))  # fmt: skip
    results.flush()
    results.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    with running_service(tmp, images=0, job=None) as service, chromium() as browser:
        records, truth = synth_images(service.images, photos=2)
        label_versions = seed_labels(service, records, truth)
        service.create_job("tags-3", records[4:6])
        seed_registry(service.settings, tmp, label_versions)
        approve_after_training(service, records, truth)
        seed_fleet(service.settings, records)
        yield service, browser, records


def open_page(browser, service, user: str, path: str, errors: list[str] | None = None):
    """A logged-in page at ``path``; script errors (a CSP violation among them) and failed loads go to ``errors``."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    if errors is not None:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text
                else None)  # fmt: skip
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
                and not r.url.endswith("/favicon.ico") else None)  # fmt: skip
    log_in(page, service.url, user)
    page.goto(f"{service.url}{path}")
    page.wait_for_load_state("networkidle")
    return page


# -- the pages ------------------------------------------------------------------------------------


def test_loop_page_counts_every_stage(console, tmp_path):
    service, browser, records = console
    errors: list[str] = []
    page = open_page(browser, service, "vera", "/loop", errors)
    assert page.locator("header nav a", has_text="Loop").count() == 1
    assert f"{len(records)} images" in page.text_content("#stage-images")
    # 4 approved (0 in its second round, 1, 2, and 3 after the last training); 4, 5 in a job; the rest waits
    labelling = page.text_content("#stage-labelling")
    assert f"{len(records) - 4 - 2} waiting for labels" in labelling and "2 in 1 open job" in labelling
    assert "4 approved images" in page.text_content("#stage-labels")
    assert "1 since last training" in page.text_content("#stage-labels")
    assert "production: scratch-detector/1" in page.text_content("#stage-models")
    assert "1 candidate" in page.text_content("#stage-models")
    assert "1 of 2 devices online" in page.text_content("#stage-fleet")
    assert "1 open alert" in page.text_content("#stage-fleet")
    assert "training run" in page.text_content("#running")
    counts = page.text_content("#counts")
    assert "after scratch-detector/2" in counts  # the newest trained version
    assert page.locator("#stage-models").get_attribute("href") == "/models"
    page.screenshot(path=str(shots(tmp_path) / "loop.png"), full_page=True)
    page.click("#stage-fleet")
    page.wait_for_url("**/fleet")
    assert errors == []


def test_models_page_charts_versions_and_an_admin_approves_on_record(console, tmp_path):
    service, browser, _ = console
    errors: list[str] = []
    page = open_page(browser, service, "vera", "/models", errors)
    rows = page.locator("#versions tbody tr")
    assert rows.count() == 2 and "scratch-detector/2" in rows.nth(0).text_content()
    assert page.locator("#metrics-chart g.series").count() == 2  # mAP50 and recall
    assert page.locator("#metrics-chart circle").count() == 4
    page.screenshot(path=str(shots(tmp_path) / "models.png"), full_page=True)
    page.click("text=scratch-detector/2")
    page.wait_for_selector("#gate-checks")
    assert page.locator("#gate-checks tr.pass").count() == 2
    assert "against scratch-detector/1" in page.text_content("#gate")
    assert page.locator("#decide").count() == 0  # a verifier sees the figures, not the decision

    admin = open_page(browser, service, "ada", "/models/scratch-detector/2", errors)
    admin.fill("#decide textarea[name=reason]", "recall up by 0.09 on the same test images")
    admin.screenshot(path=str(shots(tmp_path) / "model-version.png"), full_page=True)
    admin.click("#approve")
    admin.wait_for_load_state("networkidle")
    assert admin.text_content("#approval") == "Approved"
    last = admin.locator("#history tbody tr, #history tr").last.text_content()
    assert "ada (console)" in last and "recall up by 0.09" in last

    from qiloop.registry import ModelRegistry

    registry = ModelRegistry.from_settings(service.settings)
    assert registry.production(MODEL).version == 2
    [decision] = [r for r in registry.approvals(MODEL) if r.version == 2]
    assert decision.actor == "ada (console)" and decision.figures["metrics"]["recall"] == pytest.approx(0.73)
    assert errors == []


def test_fleet_pages_show_devices_rollouts_and_charts(console, tmp_path):
    service, browser, _ = console
    errors: list[str] = []
    page = open_page(browser, service, "vera", "/fleet", errors)
    cam1 = page.locator("#devices tbody tr", has_text="cam-1")
    cam2 = page.locator("#devices tbody tr", has_text="cam-2")
    assert "online" in cam1.get_attribute("class") and "offline" in cam2.get_attribute("class")
    assert "scratch-detector 1" in cam1.text_content() and "21.0 %" in cam1.text_content()
    rollout = page.locator("#rollouts tbody tr").first
    assert "SUCCEEDED" in rollout.text_content() and "cam-1 (canary): SUCCEEDED" in rollout.text_content()
    assert rollout.locator("code.setting").all_text_contents() == ["feedback.sample_rate=0.2"]  # the app's settings
    alert = page.locator("#alerts tbody tr.alert.open")
    assert alert.count() == 1 and "has not been heard from" in alert.text_content()
    assert page.locator("#alerts form").count() == 0  # resolving is for admins
    page.screenshot(path=str(shots(tmp_path) / "fleet.png"), full_page=True)

    page.click("#devices >> text=cam-1")
    page.wait_for_selector("#charts")
    assert page.locator("#charts figure.chart").count() == 5
    assert page.locator("#charts polyline").count() >= 5  # every chart draws its line
    latency = page.locator("#charts figure.chart", has_text="Latency")
    assert latency.locator("g.series").count() == 2  # p50 and p95
    page.screenshot(path=str(shots(tmp_path) / "fleet-device.png"), full_page=True)

    admin = open_page(browser, service, "ada", "/fleet/devices/cam-2", errors)
    admin.fill("#alerts input[name=resolution]", "moved to line B")
    admin.click("#alerts button")
    admin.wait_for_load_state("networkidle")
    assert admin.locator("#alerts tr.alert.open").count() == 0
    assert "moved to line B (ada, console)" in admin.text_content("#alerts tr.alert.resolved")

    page.goto(f"{service.url}/fleet/lines/line-a?window=6h")
    assert "2 device(s)" in page.text_content("#members")
    assert page.locator("#charts polyline").count() >= 5
    assert errors == []


def test_results_page_draws_boxes_and_filters(console, tmp_path):
    service, browser, _ = console
    errors: list[str] = []
    page = open_page(browser, service, "vera", "/results", errors)
    cards = page.locator("#results figure.result")
    assert cards.count() == 24  # a page; 30 results are stored
    assert page.locator("#results svg image").count() == 24  # every result's image is in the store here
    assert "cropped" in page.locator("#results figcaption .name").first.text_content()  # a file name, no sha256
    page.screenshot(path=str(shots(tmp_path) / "results.png"), full_page=True)
    page.click("#older")
    page.wait_for_load_state("networkidle")
    assert page.locator("#results figure.result").count() == 6

    page.goto(f"{service.url}/results")
    page.select_option("select[name=verdict]", "fail")
    page.click("#filters button")
    page.wait_for_load_state("networkidle")
    fails = page.locator("#results figure.result")
    assert fails.count() == 10 and page.locator("#results figure.result.pass").count() == 0
    assert page.locator("#results rect.box").count() == 10  # one box per failed inspection
    page.goto(f"{service.url}/results?verdict=maybe")
    assert "unknown verdict" in page.text_content("main")
    assert [e for e in errors if "verdict=maybe" not in e] == []


def test_data_page_browses_thumbnails_with_label_status_and_history(console, tmp_path):
    service, browser, records = console
    errors: list[str] = []
    page = open_page(browser, service, "vera", "/data", errors)
    tiles = page.locator("#tiles a.tile")
    assert tiles.count() == len(records)
    wait_images(page)
    page.screenshot(path=str(shots(tmp_path) / "data.png"), full_page=True)
    page.select_option("select[name=status]", "APPROVED")
    page.click("#filters button")
    page.wait_for_load_state("networkidle")
    assert page.locator("#tiles a.tile").count() == 4
    assert "4 image(s)" in page.text_content("#total")

    page.goto(f"{service.url}/data/{records[0].sha256}")
    history = page.locator("#history tbody tr")
    assert history.count() == 2
    assert "REJECTED" in history.nth(0).text_content() and "APPROVED" in history.nth(1).text_content()
    assert page.locator("svg.boxes rect.box").count() == len([b for b in _truth_boxes(service, records[0])])
    page.screenshot(path=str(shots(tmp_path) / "data-image.png"), full_page=True)
    assert errors == []


def wait_images(page) -> None:
    """Until every thumbnail has loaded (naturalWidth is read through the DOM, no inline script)."""
    deadline = time.monotonic() + 20
    while page.eval_on_selector_all("#tiles img", "els => els.filter(e => !e.complete).length") and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    widths = page.eval_on_selector_all("#tiles img", "els => els.map(e => e.naturalWidth)")
    assert widths and min(widths) > 0, "a thumbnail did not load"


def _truth_boxes(service, record):
    [latest] = [r for r in service.labels.latest(status=None) if r.image_sha256 == record.sha256]
    return latest.annotations


def test_metrics_and_roles(console):
    service, _, records = console
    text = service.api("ada").get("/metrics")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    body = text.text
    assert f"qiloop_images {float(len(records))}" in body
    assert "qiloop_fleet_devices 2.0" in body and "qiloop_fleet_devices_online 1.0" in body
    assert 'qiloop_device_online{device="cam-1"} 1.0' in body
    assert 'qiloop_device_online{device="cam-2"} 0.0' in body
    assert 'qiloop_device_defect_rate{device="cam-1"} 0.21' in body
    assert "qiloop_fleet_alerts_open" in body
    assert 'qiloop_console_requests_total{route="/metrics",status="200"}' in service.api("ada").get("/metrics").text
    anonymous = service.api(None).get("/metrics")  # no token: sent to the login, no figure shown
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    for path in ("/loop", "/models", "/fleet", "/results", "/data", f"/console/images/{records[0].sha256}/thumb"):
        assert service.api("alice").get(path).status_code == 403, path  # labellers label; the console is for verifiers
        assert service.api("vera").get(path).status_code == 200, path
    # A verifier cannot decide on a model, even with a token.
    refused = service.api("vera").post(f"/models/{MODEL}/1/decision", data={"decision": "reject", "reason": "x"})
    assert refused.status_code == 403


XSS_HOOK = "window.__xssHits = []; window.__xss = (n) => window.__xssHits.push(n);"


def test_no_payload_runs_or_is_served_verbatim_on_the_console(console, tmp_path):
    """Image names, job names and device results carrying script payloads, shown with the CSP bypassed."""
    from labeling_helpers import png
    from qiloop.core.records import LabelRecord, LabelStatus
    from qiloop.fleet.results_db import ResultsDB
    from qiloop.protocol.messages import InferenceResult
    from xss_payloads import payloads

    corpus = payloads()[:24]
    browser = console[1]  # one Playwright per process: the module's browser, a service of this test's own
    with running_service(tmp_path, images=0, job=None) as service:
        named = [service.images.ingest_bytes(png(k), name=f"{payload}.png") for k, payload in enumerate(corpus)]
        service.labels.append([
            LabelRecord(image_uri=r.uri, image_sha256=r.sha256, image_width=r.width, image_height=r.height,
                        image_depth=r.depth, event_time=datetime.now(timezone.utc), labeling_job=corpus[k % 24][:128],
                        status=LabelStatus.APPROVED, verifier="vera")
            for k, r in enumerate(named)
        ])  # fmt: skip
        results = ResultsDB.from_settings(service.settings)
        for k in range(len(named)):
            results.add_result(InferenceResult(device_id="cam-x", sequence=k, image_name=corpus[k], image_sha256="",
                                               model_name="m", model_version=corpus[k][:40], verdict="pass",
                                               latency_ms=1.0))  # fmt: skip
        results.flush()
        results.close()

        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
        context.add_init_script(XSS_HOOK)
        dialogs: list[str] = []
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        log_in(page, service.url, "ada")
        client = service.api("ada")
        paths = ["/loop", "/data", "/results", "/fleet", "/models"] + [f"/data/{r.sha256}" for r in named[:6]]
        for path in paths:
            page.goto(f"{service.url}{path}")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(50)
            assert page.evaluate("window.__xssHits") == [] and dialogs == [], path
            body = client.get(path).text
            leaked = [p for p in corpus if "<" in p and p in body]
            assert leaked == [], f"{path} serves payloads verbatim: {leaked[:3]}"
