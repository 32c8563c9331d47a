"""The model holder: loads before it swaps, keeps serving through a swap, keeps the old model on a failed load."""

from __future__ import annotations

import shutil

import pytest

from qiloop.core.errors import ConfigurationError, InvalidRecordError, NotFoundError
from qiloop.core.package import read_manifest, write_manifest
from qiloop.serving import ModelHolder, PackageSource, ServeOptions, open_source
from qiloop.settings import Settings
from serving_helpers import sample_jpegs


@pytest.fixture(scope="module")
def second_package(tiny_package_v2):
    return tiny_package_v2


def place(package, folder):
    """Make ``folder`` hold a copy of ``package`` (what a deploy script would do)."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(package, folder)


def test_swap_loads_first_and_running_requests_finish_on_the_old_model(tmp_path, serve_package, second_package):
    live = tmp_path / "live"
    place(serve_package, live)
    holder = ModelHolder(PackageSource(live), sessions=2, threads=1, int8=False, poll_s=0)
    assert holder.current is None and holder.refresh() is True
    old = holder.current
    assert (old.version, len(old.detectors), holder.swaps) == ("1", 2, 0)
    assert holder.refresh() is False and holder.current is old  # same release: nothing to do
    image = sample_jpegs(1)[0][1]
    with old.detector() as running:  # a request that started on v1
        place(second_package, live)
        assert holder.refresh() is True
        assert holder.current is not old and holder.current.version == "2" and holder.swaps == 1
        assert running.ready and len(running.detect(image, confidence=0.01)) > 0  # it still finishes on v1
    new = holder.current
    with new.detector() as d2, old.detector() as d1:
        assert d2.detect(image, confidence=0.01).scores.tolist() != d1.detect(image, confidence=0.01).scores.tolist()


def test_a_release_that_fails_to_load_keeps_the_old_model_and_is_not_retried(tmp_path, serve_package, second_package):
    live = tmp_path / "live"
    place(serve_package, live)
    holder = ModelHolder(PackageSource(live), sessions=1, threads=1, int8=False, poll_s=0)
    holder.refresh()
    served = holder.current
    # a package whose manifest claims two classes: the model's output contradicts it
    place(second_package, live)
    manifest = read_manifest(live)
    write_manifest(live, name=manifest.name, version="3", classes=["scratch", "dent"], input_height=64, input_width=96)
    with pytest.raises(InvalidRecordError, match="2 class"):
        holder.refresh()
    assert holder.current is served and holder.load_failures == 1
    holder.poll()  # the watcher's step: the same broken release is not loaded again
    assert (holder.load_failures, holder.poll_failures, holder.current) == (1, 0, served)
    place(second_package, live)  # a good release: it loads
    holder.poll()
    assert holder.current.version == "2" and holder.swaps == 1
    shutil.rmtree(live)  # the source cannot be read: counted, the model keeps serving
    holder.poll()
    assert holder.poll_failures == 1 and holder.current.version == "2" and "no manifest.json" in holder.last_error


def test_watcher_thread_picks_up_a_new_release(tmp_path, serve_package, second_package):
    live = tmp_path / "live"
    place(serve_package, live)
    holder = ModelHolder.for_options(PackageSource(live), ServeOptions(worker_threads=1, poll_s=0.05))
    holder.refresh()
    holder.start()
    try:
        place(second_package, live)
        import time

        deadline = time.monotonic() + 30
        while holder.current.version != "2" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.current.version == "2" and holder.swaps == 1
    finally:
        holder.stop()
    assert holder._thread is None


def test_open_source(tmp_path, serve_package):
    settings = Settings(home=tmp_path / "home")
    assert isinstance(open_source(str(serve_package), settings), PackageSource)
    with pytest.raises(NotFoundError, match=r"no model package folder at \./nowhere"):
        open_source("./nowhere", settings)
    with pytest.raises(ConfigurationError, match="not a version number"):
        open_source("scratch-detector/three", settings)
