"""The ONNX Runtime detector: a model package in, detections out.

``OnnxDetector.from_package`` does the I/O (verify the package, build the
session, run a test inference); ``OnnxDetector(session, manifest)`` takes a
ready session, so tests and servers can supply their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from qiloop.core.detections import Detections
from qiloop.core.errors import InvalidRecordError, NotFoundError
from qiloop.core.package import ModelManifest, read_manifest
from qiloop.edge.runtime.postprocess import decode
from qiloop.edge.runtime.preprocess import Letterboxer, read_rgb
from qiloop.edge.runtime.session import build_session

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"


class OnnxDetector:
    """Runs a YOLOv8 model package on images: letterbox, forward, decode.

    Args:
        session: An ``onnxruntime.InferenceSession`` (or anything with its
            ``run``/``get_inputs`` interface) for the package's model.
        manifest: The package's manifest: classes, input size, thresholds.
        model_file: Which file of the package the session runs (for reports).
        draft_decode: Decode JPEGs at least twice the input size at 1/2, 1/4 or 1/8
            scale (see :func:`~qiloop.edge.runtime.preprocess.read_rgb`): faster, and
            close to but not exactly the pixels of a full decode, so off unless asked
            for (the inference app asks; evaluation and the HTTP endpoint decode fully).

    Example:
        >>> detector = OnnxDetector.from_package("packages/scratch-3", threads=1)  # doctest: +SKIP
        >>> detector.detect(open("tag.jpg", "rb").read()).scores  # doctest: +SKIP
    """

    def __init__(
        self, session, manifest: ModelManifest, *, model_file: str = FP32_FILE, draft_decode: bool = False
    ) -> None:
        self.session = session
        self.manifest = manifest
        self.model_file = model_file
        self.draft_decode = draft_decode
        self._input = session.get_inputs()[0].name
        self._letterbox = Letterboxer(self.input_size, manifest.preprocessing.pad_value)
        self.ready = False

    @classmethod
    def from_package(
        cls,
        path: str | Path,
        *,
        threads: int | None = None,
        int8: bool = False,
        providers: Sequence[str] | None = None,
        optimized_dir: str | Path | None = None,
        draft_decode: bool = False,
        spin: bool = False,
    ) -> OnnxDetector:
        """Load a verified package and return a detector that has passed a test inference.

        Args:
            path: The package folder (``manifest.json`` and its ONNX files).
            threads: ONNX Runtime intra-op threads; ``None`` lets it use every core.
            int8: Run ``model.int8.onnx`` instead of ``model.onnx``.
            providers: Execution providers in order of preference (CPU by default);
                each must be one ``onnxruntime.get_available_providers()`` lists.
            optimized_dir: A writable folder where the model, once optimised for this
                machine, is kept, so later starts skip the optimisation (see
                :func:`~qiloop.edge.runtime.session.build_session`).
            draft_decode: See the class.
            spin: Let idle ONNX Runtime threads spin-wait for work; worth it only when
                this process has its cores to itself (see
                :func:`~qiloop.edge.runtime.session.build_session`).

        Raises:
            NotFoundError: Not a package, or it lacks the requested model file.
            InvalidRecordError: A file's sha256 differs from the manifest, the model
                cannot be loaded, or its input/output shapes contradict the manifest.
            ConfigurationError: A requested execution provider is not installed.
            MissingDependencyError: onnxruntime is not installed.
        """
        folder = Path(path)
        manifest = read_manifest(folder, verify=True)
        model_file = INT8_FILE if int8 else FP32_FILE
        if model_file not in manifest.files:
            raise NotFoundError(
                f"model package {folder} has no {model_file}",
                hint="run without --int8, or rebuild the package with INT8 export",
            )
        sha256 = manifest.files[model_file].sha256
        session = build_session(
            folder / model_file,
            threads=threads,
            providers=providers,
            optimized_dir=optimized_dir,
            sha256=sha256,
            spin=spin,
        )
        detector = cls(session, manifest, model_file=model_file, draft_decode=draft_decode)
        detector.check()
        return detector

    @property
    def classes(self) -> list[str]:
        return list(self.manifest.classes)

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's input ``(height, width)``."""
        return (self.manifest.input_height, self.manifest.input_width)

    def check(self) -> None:
        """Test inference on a blank image; the detector is ``ready`` only after it passes."""
        shape = self.session.get_inputs()[0].shape
        fixed = [d for d in shape[2:] if isinstance(d, int)]
        if len(fixed) == 2 and tuple(fixed) != self.input_size:
            raise InvalidRecordError(
                f"the model expects {fixed[0]}x{fixed[1]} input but the manifest says "
                f"{self.input_size[0]}x{self.input_size[1]}",
                hint="the manifest does not belong to this model; rebuild the package",
            )
        blank = np.full((*self.input_size, 3), self.manifest.preprocessing.pad_value, np.uint8)
        output = self.forward(self._letterbox(blank)[0])
        expected = 4 + len(self.manifest.classes)
        if output.ndim != 3 or output.shape[:2] != (1, expected):
            raise InvalidRecordError(
                f"the model outputs {output.shape}, expected (1, {expected}, anchors) "
                f"for {len(self.manifest.classes)} class(es)",
                hint="the manifest's classes do not match the model; rebuild the package",
            )
        self.ready = True

    def forward(self, tensor: np.ndarray) -> np.ndarray:
        """Run the model on a ``(1, 3, h, w)`` float32 tensor; the raw output."""
        return self.session.run(None, {self._input: tensor})[0]

    def detect(
        self,
        image,
        *,
        confidence: float | None = None,
        iou: float | None = None,
        max_detections: int | None = None,
    ) -> Detections:
        """Detections in original image pixels for one image.

        Args:
            image: A PIL image, an ``HxWx3`` uint8 RGB array, encoded bytes, or a path.
            confidence, iou, max_detections: Override the package's thresholds (by default
                each class's operating confidence, chosen in training).

        Raises:
            ImageRejectedError: The image cannot be read.
        """
        limits = self.manifest.thresholds
        rgb, size = read_rgb(image, self.input_size if self.draft_decode else None)
        tensor, box = self._letterbox(rgb, size)
        operating = self.manifest.operating_confidence() if confidence is None else confidence
        floor = min(operating.values(), default=limits.confidence) if isinstance(operating, dict) else operating
        found = decode(
            self.forward(tensor),
            confidence=floor,
            iou=limits.iou if iou is None else iou,
            max_detections=limits.max_detections if max_detections is None else max_detections,
            ratio=box.ratio,
            pad=box.pad,
            image_size=size,
        )
        return found.above(operating) if isinstance(operating, dict) else found

    def detect_batch(self, images: Iterable, **overrides) -> list[Detections]:
        """:meth:`detect` for each image, in order (the models are exported with batch 1)."""
        return [self.detect(image, **overrides) for image in images]

    def __repr__(self) -> str:
        m = self.manifest
        return f"OnnxDetector({m.name!r} v{m.version or '?'}, {self.model_file}, {m.input_width}x{m.input_height})"
