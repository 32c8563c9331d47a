"""A labelling job done by the simulated workforce: unlabelled synthetic images land in the label store, approved.

A real labelling service on a free port, six bots (one sloppy) over HTTP, gold
images from the imported labels, a bot verifier, and the approved labels read
back from the Delta label store with their provenance.
"""

from __future__ import annotations

import pytest

from qiloop.core.records import LabelSource, LabelStatus
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.settings import Settings
from qiloop.sim.workforce import label_with_bots
from qiloop.storage import ImageStore
from qiloop.synth import generate_dataset

pytestmark = pytest.mark.slow


def test_unlabelled_synthetic_images_land_approved_with_provenance(tmp_path):
    settings = Settings(home=tmp_path / "home")
    data = tmp_path / "data"
    generate_dataset(data, 36, seed=3, unlabeled=8, size=(320, 224))
    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    images.ingest([data / "images"], source="camera:test")
    import_parsed(labels_csv.read(data / "labels.csv"), images, labels, images_root=data)
    todo = images.unlabeled(labels.labeled_sha256s())
    assert len(todo) == 8
    before = labels.version()

    result = label_with_bots(settings, images, labels, todo, job="demo-test", seed=1)

    assert images.unlabeled(labels.labeled_sha256s()) == []
    assert {r.image_sha256 for r in result.records} == {r.sha256 for r in todo}
    assert result.approved == 8 and result.tasks >= 24
    for record in result.records:
        assert record.status == LabelStatus.APPROVED and record.source == LabelSource.HUMAN
        assert record.labeling_job == "demo-test" and record.verifier == "bot-verifier"
        assert len(record.annotators) == 3 and 0 <= record.agreement <= 1
    assert result.label_store_version > before
    assert result.quality.f1 >= 0.85, result.quality
    (sloppy,) = result.sloppy
    assert result.workers[sloppy].gold_items >= 3
    assert result.workers[sloppy].flagged, result.workers
    assert not any(w.flagged for name, w in result.workers.items() if name != sloppy), result.workers
