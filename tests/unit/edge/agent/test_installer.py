"""The installer against a real component store served over real HTTP."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
import zipfile

import pytest

from qiloop.core.components import Lifecycle
from qiloop.core.deployments import ComponentRef, Deployment, Target
from qiloop.edge.agent.download import IntegrityError
from qiloop.edge.agent.home import DeviceHome
from qiloop.edge.agent.installer import DeploymentRefused, Installer, installed
from qiloop.edge.agent.unpack import UnsafeArchiveError
from qiloop.fleet.component_store import ComponentStore, file_key
from qiloop.fleet.file_server import FileServer

WEIGHTS = bytes(range(256)) * 4000  # 1,024,000 bytes
CONFIG = b'{"classes": ["scratch"]}'


def _zip(entries: dict[str, bytes], mode: int = stat.S_IFREG | 0o644) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@pytest.fixture
def fleet(tmp_path):
    store = ComponentStore.from_url(tmp_path / "store")
    with FileServer(store) as server:
        yield store, server


def _deployment(*components) -> Deployment:
    refs = [ComponentRef(name=c.name, version=c.version, digest=c.digest) for c in components]
    return Deployment(sequence=1, target=Target(kind="device", name="d1"), components=refs)


def test_a_component_installs_completely_and_a_new_version_fetches_only_what_changed(fleet, tmp_path):
    store, server = fleet
    v1 = store.publish("model", "1", "model", {"model.onnx": WEIGHTS, "config.json": CONFIG})
    home = DeviceHome(tmp_path / "home")
    installer = Installer(home, server.url)
    docs = installer.documents(_deployment(v1))
    assert installer.plan(docs) == {"model": "1"}
    assert installer.download(docs["model"]) == len(WEIGHTS) + len(CONFIG)
    installer.install(docs["model"])
    folder = home.version_dir("model", "1")
    assert (folder / "model.onnx").read_bytes() == WEIGHTS and installed(home, "model", "1") == v1
    home.switch({"model": "1"})

    v2 = store.publish("model", "2", "model", {"model.onnx": WEIGHTS, "config.json": b'{"classes": ["dent"]}'})
    server.reset_counts()
    docs = installer.documents(_deployment(v2))
    assert installer.download(docs["model"]) == 21  # only config.json changed; the weights are linked
    installer.install(docs["model"])
    assert (home.version_dir("model", "2") / "model.onnx").read_bytes() == WEIGHTS
    assert sum(n for p, n in server.served.items() if p.startswith("/v1/files/")) == 21


def test_archives_unpack_into_the_version_folder(fleet, tmp_path):
    store, server = fleet
    code = store.publish("code", "1", "inference", {"app.zip": _zip({"pkg/app.py": b"print(1)\n"})},
                         lifecycle=Lifecycle(command=["{python}"], unpack=["app.zip"]))  # fmt: skip
    home = DeviceHome(tmp_path / "home")
    installer = Installer(home, server.url)
    installer.download(code)
    installer.install(code)
    assert (home.version_dir("code", "1") / "pkg" / "app.py").read_bytes() == b"print(1)\n"
    assert not list(home.version_dir("code", "1").glob(".unpack-*"))


def test_a_document_that_is_not_the_signed_one_is_refused(fleet, tmp_path):
    store, server = fleet
    v1 = store.publish("model", "1", "model", {"model.onnx": WEIGHTS})
    ref = ComponentRef(name="model", version="1", digest="0" * 64)
    deployment = Deployment(sequence=1, target=Target(kind="device", name="d1"), components=[ref])
    with pytest.raises(DeploymentRefused, match="digest differs"):
        Installer(DeviceHome(tmp_path / "home"), server.url).documents(deployment)
    missing = ComponentRef(name="model", version="9", digest=v1.digest)
    with pytest.raises(DeploymentRefused, match="no component model/9"):
        Installer(DeviceHome(tmp_path / "home"), server.url).documents(
            Deployment(sequence=1, target=Target(kind="device", name="d1"), components=[missing])
        )


def test_an_unmet_dependency_is_refused(fleet, tmp_path):
    store, server = fleet
    code = store.publish("code", "1", "inference", {"app.zip": _zip({"a.py": b""})}, dependencies={"model": ">=2"})
    installer = Installer(DeviceHome(tmp_path / "home"), server.url)
    with pytest.raises(DeploymentRefused, match="needs model >=2"):
        installer.plan(installer.documents(_deployment(code)))


@pytest.mark.parametrize(
    ("archive", "error"),
    [
        (_zip({"../x.py": b""}), "climbs out"),
        (_zip({"/etc/x.py": b""}), "absolute"),
        (_zip({"link": b"/etc/passwd"}, mode=stat.S_IFLNK | 0o777), "link"),
        (_zip({".complete": b""}), "replace a component file"),
        (_zip({"component.json": b"{}"}), "replace a component file"),
    ],
)
def test_unsafe_archives_leave_no_version_folder(fleet, tmp_path, archive, error):
    store, server = fleet
    code = store.publish("code", "1", "inference", {"app.zip": archive}, lifecycle=Lifecycle(unpack=["app.zip"]))
    home = DeviceHome(tmp_path / "home")
    installer = Installer(home, server.url)
    installer.download(code)
    with pytest.raises(UnsafeArchiveError, match=error):
        installer.install(code)
    assert not home.version_dir("code", "1").exists()


def test_a_corrupted_artefact_is_refused_while_downloading(fleet, tmp_path):
    store, server = fleet
    v1 = store.publish("model", "1", "model", {"model.onnx": WEIGHTS})
    blob = tmp_path / "store" / file_key(v1.files[0].sha256)
    blob.write_bytes(WEIGHTS[:-1] + b"\x00")
    home = DeviceHome(tmp_path / "home")
    with pytest.raises(IntegrityError, match="sha256"):
        Installer(home, server.url).download(v1)
    assert list(home.downloads.iterdir()) == [] and not home.version_dir("model", "1").exists()


def test_the_nucleus_imports_nothing_a_device_does_not_have():
    heavy = ["torch", "ultralytics", "mlflow", "dagster", "fastapi", "sqlalchemy", "deltalake", "polars", "pyarrow"]
    heavy += ["fsspec"]
    code = f"import sys, qiloop.edge.agent.nucleus, qiloop.cli.agent; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"the nucleus pulled in {out}"
