"""`qiloop labeling serve | users token | bots` on a real home folder, the server as a real process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import typer
from typer.testing import CliRunner

from browser_helpers import synth_images
from labeling_helpers import add_users
from qiloop.cli import labeling as label_cli
from qiloop.labeling import auth, jobs
from qiloop.labeling.db import Database
from qiloop.labelstore import LabelStore
from qiloop.settings import Settings
from qiloop.storage import ImageStore

pytestmark = pytest.mark.slow
runner = CliRunner()
MAIN = "import sys; from qiloop.cli.main import main; sys.exit(main())"


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(label_cli.app, name="labeling")
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_users_token_prints_a_working_token_once(app, tmp_path):
    home = tmp_path / "home"
    db = Database.from_settings(Settings(home=home))
    add_users(db, "ann")
    result = runner.invoke(app, ["labeling", "users", "token", "ann", "--home", str(home)])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("qlt_")
    with db.session() as session:
        assert auth.user_for_token(session, token).username == "ann"
    result = runner.invoke(app, ["labeling", "users", "token", "nobody", "--home", str(home)])
    assert result.exit_code != 0


def test_bots_label_and_verify_a_job_until_every_image_is_approved(app, tmp_path):
    home = tmp_path / "home"
    settings = Settings(home=home)
    db = Database.from_settings(settings)
    records, truth = synth_images(ImageStore.from_settings(settings), photos=2, size=(256, 192), seed=3)
    with db.session() as session:
        spec = jobs.JobSpec.build(name="tags-cli", classes=["scratch"], annotators_per_image=3)
        jobs.create_job(session, spec, records)
    # Nine bots: an image rejected twice still finds three who have not seen it.
    args = ["labeling", "bots", "--job", "tags-cli", "--count", "9", "--sloppy", "1", "--verify", "--json"]
    result = runner.invoke(app, [*args, "--home", str(home)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert len(report["per_bot"]) == 9
    assert report["approved"] == len(records)
    approved = {r.image_sha256: r for r in LabelStore.from_settings(settings).latest()}
    assert set(approved) == set(truth)
    assert all(r.verifier == "bot-verifier" and len(r.annotators) == 3 for r in approved.values())


def test_serve_runs_as_a_process_and_refuses_the_development_key_in_production(tmp_path):
    home, port = tmp_path / "home", free_port()
    env = {**os.environ, "QILOOP_HOME": str(home), "QILOOP_ENV": "production"}
    env.pop("QILOOP_LABELING_SECRET_KEY", None)
    refused = subprocess.run(
        [sys.executable, "-c", MAIN, "labeling", "serve", "--port", str(port)], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2, refused.stderr
    assert "development secret key" in refused.stderr + refused.stdout
    env["QILOOP_LABELING_SECRET_KEY"] = "s" * 48
    server = subprocess.Popen(
        [sys.executable, "-c", MAIN, "labeling", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "the service did not come up"
                time.sleep(0.2)
        assert response.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/me").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
