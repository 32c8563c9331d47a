"""Cross-site scripting: 60 payloads in every text a user can set, rendered on every page in Chromium.

The payloads go into job instructions, class names, image names, rejection
reasons, uploaded file names, user names and roles (refused, but echoed in the
error), and into URLs. Job
names are refused by their pattern, so they reach pages only through the job's
URL (its label and verify pages and its close and cancel forms answer 404 and
echo the name). The
browser runs with the Content-Security-Policy bypassed, so what is tested is
the escaping alone (the CSP is a second wall, tested by the headers test).
A payload that ran would call ``__xss(n)`` or open a dialog; neither may happen,
no page may grow an element or attribute that can run script, and no
server-rendered page may hold a payload verbatim.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from browser_helpers import chromium, log_in
from labeling_helpers import PASSWORD, png
from labeling_web_helpers import running_service
from qiloop.core.errors import ConfigurationError
from qiloop.core.records import Box
from qiloop.labeling import jobs, tasks, verification
from qiloop.labeling.uploads import base_name
from xss_payloads import payloads

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GROUP = 6
HOOK = "window.__xssHits = []; window.__xss = (n) => window.__xssHits.push(n);"
DANGER = """() => {
  const bad = [];
  const tags = new Set(["IFRAME", "OBJECT", "EMBED", "SVG", "MATH", "VIDEO", "AUDIO", "MARQUEE", "BASE", "FRAMESET",
    "DETAILS", "XMP", "NOSCRIPT", "STYLE"]);
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toUpperCase();
    if (tags.has(tag)) bad.push(tag);
    if (tag === "SCRIPT" && !el.getAttribute("src")) bad.push("inline SCRIPT");
    if (tag === "META" && el.getAttribute("http-equiv")) bad.push("META refresh");
    for (const a of el.attributes) {
      if (a.name.startsWith("on")) bad.push(tag + " " + a.name);
      if (/^\\s*javascript:/i.test(a.value)) bad.push(tag + " " + a.name + "=javascript:");
    }
  }
  return bad;
}"""


ROLE_OPTION = """(payload) => {
  const option = document.querySelector("form.role-form select option");
  option.value = payload;
  option.selected = true;
}"""


def groups(items: list[str]) -> list[list[str]]:
    return [items[i : i + GROUP] for i in range(0, len(items), GROUP)]


def seed_jobs(service, corpus: list[str]) -> tuple[list[str], list[str]]:
    """Jobs whose instructions, classes, image names and rejection reasons are payloads.

    Returns the names of jobs left waiting for verification and of jobs whose
    rejected images wait for a second round of labelling.
    """
    verify_jobs, label_jobs, seed = [], [], 1000
    for k, group in enumerate(groups(corpus)):
        classes = [f"{i} {p}"[:64] for i, p in enumerate(group)]
        for kind, names in (("verify", verify_jobs), ("label", label_jobs)):
            with service.images.batch():
                stored = [
                    service.images.ingest_bytes(png(seed + i), name=f"x{seed + i}.png") for i in range(len(group))
                ]
            seed += len(group)
            records = [
                r.model_copy(update={"uri": f"file:///tags/{p}.png"}) for r, p in zip(stored, group, strict=True)
            ]
            name = f"xss-{kind}-{k}"
            spec = jobs.JobSpec.build(name=name, classes=classes, instructions="\n".join(group), annotators_per_image=1)
            with service.db.session() as session:
                jobs.create_job(session, spec, records)
            label_round(service, name, "carl", len(group))
            for item in verification.review_queue(service.db, name):
                reason = group[[r.sha256 for r in stored].index(item.image_sha256)]
                verification.reject(service.db, item.item_id, "vera", reason)
            if kind == "verify":
                label_round(service, name, "bob", len(group))
            names.append(name)
    return verify_jobs, label_jobs


def upload_payload_names(service, page, client, corpus: list[str], check) -> None:
    """Payloads as uploaded file names (stored and rejected rows) and as a refused job name on the upload page."""
    seed = 5000
    for k, group in enumerate(groups(corpus)):
        files = [{"name": p, "mimeType": "image/png", "buffer": png(seed + i) if i % 2 else p.encode()}
                 for i, p in enumerate(group)]  # fmt: skip
        seed += len(group)
        page.goto(f"{service.url}/admin/images")
        page.set_input_files('input[name="files"]', files)
        page.click('form#upload button[type="submit"]')
        page.wait_for_selector("#uploads tbody tr")
        shown = page.locator("#uploads td.name").all_text_contents()
        assert shown == [base_name(p.replace('"', "%22")) for p in group], "file names are not shown as sent"
        check(page, f"upload group {k}")
        sent = [("files", (p, png(seed + i), "image/png")) for i, p in enumerate(group)]
        body = client.post("/admin/images", data={"job": group[0][:128]}, files=sent).text  # the job name is refused
        assert "invalid job" in body
        body += client.post("/admin/images", files=sent).text
        leaked = [t for p in group for t in (p, base_name(p)) if "<" in t and t in body]
        assert leaked == [], f"/admin/images holds file names verbatim: {leaked[:3]}"


def label_round(service, job: str, worker: str, count: int) -> None:
    for i in range(count):
        task = tasks.next_task(service.db, job, worker)
        box = Box(class_id=i % len(task.classes), left=5, top=5, width=30, height=20)
        tasks.submit(service.db, task.id, worker, [box])


def test_no_payload_runs_or_renders_unescaped_on_any_page(tmp_path):
    corpus = payloads()
    assert len(corpus) >= 50
    markup = [p for p in corpus if "<" in p]
    with running_service(tmp_path, images=0, job=None) as service, chromium() as browser:
        verify_jobs, label_jobs = seed_jobs(service, corpus)
        dialogs: list[str] = []
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800})
        context.add_init_script(HOOK)
        context.on("page", lambda p: p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss())))
        pages_checked = 0

        def check(page, what: str) -> None:
            nonlocal pages_checked
            page.wait_for_timeout(50)  # let onload / onerror / autofocus handlers fire, were there any
            hits = page.evaluate("window.__xssHits")
            assert hits == [] and dialogs == [], f"{what}: payloads {hits} ran, dialogs {dialogs}"
            assert page.evaluate(DANGER) == [], f"{what}: dangerous markup {page.evaluate(DANGER)}"
            pages_checked += 1

        def raw(path: str, client) -> None:
            body = client.get(path).text
            leaked = [p for p in markup if p in body]
            assert leaked == [], f"{path} holds payloads verbatim: {leaked[:3]}"

        admin = context.new_page()
        log_in(admin, service.url, "ada")
        ada = service.browser("ada")
        for name, payload in enumerate(corpus):  # user names are refused, and the refusal echoes them
            admin.goto(f"{service.url}/admin/users")
            admin.fill('input[name="username"]', payload)
            admin.fill('input[name="password"]', PASSWORD)
            admin.click('form.inline button[type="submit"]')
            assert admin.locator("p.error").count() == 1, f"user name {name} was not refused"
            check(admin, f"add user {name}")
            response = ada.post("/admin/users", data={"username": payload, "password": PASSWORD, "role": "labeler"})
            assert response.status_code == 400 and ("<" not in payload or payload not in response.text)
        for name, payload in enumerate(corpus):  # unknown roles are refused, and the refusal echoes them
            admin.goto(f"{service.url}/admin/users")
            admin.evaluate(ROLE_OPTION, payload)
            admin.click('form.role-form button[type="submit"]')
            assert admin.locator("p.error").count() == 1, f"role {name} was not refused"
            check(admin, f"set role {name}")
            response = ada.post("/admin/users/alice/role", data={"role": payload})
            assert response.status_code in (400, 422) and ("<" not in payload or payload not in response.text)
            for action in ("close", "cancel"):  # a job name in a lifecycle form's URL comes back in a 404 page
                response = ada.post(f"/admin/jobs/{quote(payload, safe='')}/{action}", data={"confirm": "yes"})
                assert response.status_code == 404 and ("<" not in payload or payload not in response.text)
        for path in ("/admin", "/admin/workers", "/admin/users", "/admin/images", "/jobs"):
            admin.goto(service.url + path)
            check(admin, path)
            raw(path, ada)
        upload_payload_names(service, admin, ada, corpus, check)
        for payload in corpus:  # a payload is never a job name; in a job's URL it comes back in 404 pages
            with pytest.raises(ConfigurationError):
                jobs.JobSpec.build(name=payload, classes=["scratch"])
            for page in ("label", "verify"):
                path = f"/jobs/{quote(payload, safe='')}/{page}"
                admin.goto(service.url + path)
                check(admin, path)
                raw(path, ada)

        verifier = context.new_page()
        log_in(verifier, service.url, "vera")
        vera = service.browser("vera")
        for job in verify_jobs:
            verifier.goto(f"{service.url}/jobs/{job}/verify")
            verifier.wait_for_selector('#canvas[data-state="ready"]')
            raw(f"/jobs/{job}/verify", vera)
            for i in range(verifier.locator("#queue li").count()):
                verifier.locator("#queue li").nth(i).click()
                verifier.wait_for_timeout(30)
                check(verifier, f"{job} item {i}")

        labeler = context.new_page()
        log_in(labeler, service.url, "alice")
        alice = service.browser("alice")
        for job in label_jobs:
            raw(f"/jobs/{job}/label", alice)
            labeler.goto(f"{service.url}/jobs/{job}/label")
            shown = set()
            while True:
                labeler.wait_for_selector('#canvas[data-state="ready"], #canvas[data-state="done"]')
                if labeler.get_attribute("#canvas", "data-state") == "done":
                    break
                info = labeler.get_attribute("#task-info", "title")
                assert labeler.is_visible("#rejection")  # the previous round's reason, a payload
                check(labeler, f"{job} task {info}")
                shown.add(info)
                labeler.evaluate("document.getElementById('canvas').dataset.state = 'submitting'")
                labeler.keyboard.press("Enter")
            assert len(shown) == GROUP or job == label_jobs[-1]
        assert pages_checked >= 3 * len(corpus) + len(corpus), pages_checked
        assert dialogs == []
        Path(tmp_path / "pages_checked.txt").write_text(str(pages_checked))
