"""Archives that cannot be unpacked are refused (UnsafeArchiveError), never a crash of the install.

A refusal is an :class:`InvalidRecordError`, which the deployer answers with REJECTED
(the device is unchanged); anything else would end the deployment as a failed install
(FAILED_ROLLBACK_COMPLETE). The device's own failures (here: a file size limit, like a
full disk) must stay failures, not refusals.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import pytest

from bad_archives import APP, REASONS, REGULAR, UNPACKABLE, build_zip, declared_size_lies, patch_field
from qiloop.core.components import Lifecycle
from qiloop.core.errors import InvalidRecordError
from qiloop.edge.agent.home import DeviceHome
from qiloop.edge.agent.installer import Installer
from qiloop.edge.agent.unpack import UnsafeArchiveError, unpack_zip
from qiloop.fleet.component_store import ComponentStore
from qiloop.fleet.file_server import FileServer


@pytest.mark.parametrize("case", sorted(UNPACKABLE))
def test_an_archive_that_cannot_unpack_is_refused_and_leaves_nothing(tmp_path, case):
    (tmp_path / "bad.zip").write_bytes(UNPACKABLE[case])
    assert zipfile.ZipFile(tmp_path / "bad.zip").namelist()  # a well-formed directory: only unpacking tells
    with pytest.raises(UnsafeArchiveError, match=REASONS[case]) as caught:
        unpack_zip(tmp_path / "bad.zip", tmp_path / "out")
    assert isinstance(caught.value, InvalidRecordError)
    assert not (tmp_path / "out").exists()


def test_the_patches_change_only_the_field_they_name(tmp_path):
    good = build_zip([("app.py", APP, REGULAR), ("data.bin", bytes(range(256)) * 8, REGULAR)])
    assert patch_field(good, "data.bin", "crc", lambda crc: crc) == good
    lied = zipfile.ZipFile(io.BytesIO(declared_size_lies(+100))).getinfo("data.bin")
    assert (
        lied.file_size == 2048 + 100
        and lied.compress_size == zipfile.ZipFile(io.BytesIO(good)).getinfo("data.bin").compress_size
    )
    (tmp_path / "good.zip").write_bytes(good)
    assert unpack_zip(tmp_path / "good.zip", tmp_path / "out") == 2


@pytest.mark.parametrize("order", [["lib", "lib/"], ["lib/", "lib"], ["lib", "lib/x.py"], ["lib/x.py", "lib"]])
def test_a_file_and_a_folder_of_one_name_collide_in_either_order(tmp_path, order):
    entries = [(n, b"" if n.endswith("/") else b"x", REGULAR if not n.endswith("/") else 0o40755) for n in order]
    (tmp_path / "a.zip").write_bytes(build_zip(entries))
    with pytest.raises(UnsafeArchiveError, match="collides"):
        unpack_zip(tmp_path / "a.zip", tmp_path / "out")


def test_the_installer_refuses_them_without_a_version_folder(tmp_path):
    store = ComponentStore.from_url(tmp_path / "store")
    home = DeviceHome(tmp_path / "home")
    with FileServer(store) as server:
        installer = Installer(home, server.url)
        for version, case in enumerate(sorted(UNPACKABLE), start=1):
            code = store.publish("code", str(version), "inference", {"app.zip": UNPACKABLE[case]},
                                 lifecycle=Lifecycle(unpack=["app.zip"]))  # fmt: skip
            installer.download(code)
            with pytest.raises(UnsafeArchiveError, match=REASONS[case]):
                installer.install(code)
            assert not home.version_dir("code", str(version)).exists(), case


def test_a_failure_of_the_device_itself_stays_an_os_error(tmp_path):
    """A write the device cannot do (file size limit: EFBIG, like ENOSPC) is not the archive's fault."""
    archive = tmp_path / "big.zip"
    archive.write_bytes(build_zip([("big.bin", bytes(range(256)) * 64, REGULAR)]))
    code = f"""
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
from qiloop.edge.agent.unpack import unpack_zip
try:
    unpack_zip({str(archive)!r}, {str(tmp_path / "out")!r})
except Exception as exc:
    print(type(exc).__name__, getattr(exc, "errno", None))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["OSError", "27"], done.stdout + done.stderr  # 27: EFBIG
    assert not (tmp_path / "out").exists()
