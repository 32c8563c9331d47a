"""What the demo's two-turn tests share: tiny training, a gate that lets any model through, a quick rollout, a home.

``demo_home`` fills a fresh home as ``qiloop demo`` starts from: 40 synthetic photos
labelled and 8 unlabelled in the image and label stores, and 48 more photos for the
simulated line's cameras. Import it only after the tests' ``importorskip`` of the
extras it needs (train, registry, label).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qiloop.core.deployments import RolloutPolicy
from qiloop.labeling.db import Database
from qiloop.labelstore import LabelStore
from qiloop.labelstore.formats import labels_csv
from qiloop.labelstore.importer import import_parsed
from qiloop.registry import ModelRegistry
from qiloop.settings import Settings
from qiloop.sim.turn import World
from qiloop.storage import ImageStore
from qiloop.synth import generate_dataset
from qiloop.training.gate import GateConfig

ANY_MODEL = GateConfig(min_map50=0.0, min_precision=0.0, min_recall=0.0)  # pending: the promotion rule approves
QUICK_ROLLOUT = RolloutPolicy(canary=1, soak_s=1, health_timeout_s=120)
CAMERA_IMAGES = 48


@dataclass(frozen=True)
class DemoHome:
    """A home with labelled and unlabelled images, its registry and labelling database, and the cameras' photos."""

    settings: Settings
    images: ImageStore
    labels: LabelStore
    registry: ModelRegistry
    db: Database
    shots: list[Path]  # the photos the line's cameras take, in order

    def world(self, line, say) -> World:
        """What every turn works on, with ``line`` (a started ``SimulatedLine``) and ``say`` for progress lines."""
        return World(self.settings, self.images, self.labels, self.registry, self.db, line, say=say)


def demo_home(tmp_path: Path) -> DemoHome:
    """A new home under ``tmp_path`` as the demo starts from (see the module's notes); dispose of ``db`` when done."""
    settings = Settings(home=tmp_path / "home")
    data = generate_dataset(tmp_path / "data", 40, seed=3, unlabeled=8)
    camera = generate_dataset(tmp_path / "camera", CAMERA_IMAGES, seed=1003)
    shots = sorted((tmp_path / "camera" / "images").rglob("*.jpg"))
    assert camera.images == len(shots) == CAMERA_IMAGES
    images, labels = ImageStore.from_settings(settings), LabelStore.from_settings(settings)
    images.ingest([tmp_path / "data" / "images"], source="camera:test")
    import_parsed(labels_csv.read(data.labels_csv), images, labels, images_root=tmp_path / "data")
    registry, db = ModelRegistry.from_settings(settings), Database.from_settings(settings)
    return DemoHome(settings, images, labels, registry, db, shots)
