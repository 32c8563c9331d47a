"""ONNX Runtime sessions for model packages: providers checked, options set, optimised graphs kept.

Graph optimisation (``ORT_ENABLE_ALL``: fusions, and for quantised models the
QDQ pairs folded into INT8 operators) takes a good part of a session's start.
With ``optimized_dir`` the optimised graph is written there on the first load
and read back, unoptimised further, on later ones. The file name carries the
model's sha256, the ONNX Runtime version, the providers and the CPU's
instruction-set flags, because an ``ORT_ENABLE_ALL`` graph is specific to all
four (its blocked-layout operators are laid out for this CPU's vector width).

Intra-op worker threads do not spin-wait for work by default (``spin``): a
device shares its cores with its camera source, broker client and agent, and a
spinning worker burns a core whenever it waits. yolov8n at 320x448 on 2 threads,
on two cores already busy with another process (load average 6), interleaved:
FP32 48 ms per forward pass and 17 ms of CPU without spinning, 91 ms and 31 ms
with it; INT8 29 ms / 10 ms against 50 ms / 17 ms; 1 thread 47 ms / 16 ms and
26 ms / 9 ms. With one thread there is no pool and the setting changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from qiloop.core.errors import ConfigurationError, InvalidRecordError, require

log = logging.getLogger(__name__)

DEFAULT_PROVIDERS = ("CPUExecutionProvider",)
PROVIDER_PACKAGES = {
    "OpenVINOExecutionProvider": "onnxruntime-openvino",
    "CUDAExecutionProvider": "onnxruntime-gpu",
    "TensorrtExecutionProvider": "onnxruntime-gpu",
    "DmlExecutionProvider": "onnxruntime-directml",
}


def check_providers(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    """``requested`` as a list, once every one of them is among ``available``.

    Raises:
        ConfigurationError: A provider is not available, naming the ones that are
            and the package that brings the missing one.

    Example:
        >>> check_providers(["CPUExecutionProvider"], ["CPUExecutionProvider"])
        ['CPUExecutionProvider']
    """
    missing = [p for p in requested if p not in available]
    if missing:
        packages = sorted({PROVIDER_PACKAGES[p] for p in missing if p in PROVIDER_PACKAGES})
        install = f"install {' or '.join(packages)} in place of onnxruntime, or " if packages else ""
        raise ConfigurationError(
            f"ONNX Runtime execution provider(s) {', '.join(missing)} not available here "
            f"(available: {', '.join(available) or 'none'})",
            hint=f"{install}leave providers unset to run on the CPU",
        )
    if not requested:
        raise ConfigurationError("no execution provider given", hint="leave providers unset to run on the CPU")
    return list(requested)


def cpu_signature() -> str:
    """A short digest of the machine's architecture and CPU flags (what an optimised graph depends on)."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line for line in fh if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return hashlib.sha256(f"{platform.machine()} {flags}".encode()).hexdigest()[:10]


def optimized_path(folder: Path, sha256: str, version: str, providers: Sequence[str]) -> Path:
    """Where the optimised copy of a model with ``sha256`` lives for this runtime, these providers and this CPU."""
    names = "+".join(p.removesuffix("ExecutionProvider").lower() for p in providers)
    return folder / f"{sha256[:16]}-ort{version}-{names}-{cpu_signature()}.onnx"


def _writable(folder: Path) -> bool:
    """Create ``folder`` if needed; whether this process may write there (if not, nothing is cached)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot keep the optimised model in %s (%s); optimising it at every start", folder, exc)
        return False
    return os.access(folder, os.W_OK)


def build_session(
    model: str | Path,
    *,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
    optimized_dir: str | Path | None = None,
    sha256: str | None = None,
    spin: bool = False,
):
    """An ``onnxruntime.InferenceSession`` for ``model`` with qiloop's options.

    Args:
        model: The ONNX file.
        threads: Intra-op threads; ``None`` lets ONNX Runtime use every core.
        providers: Execution providers in order of preference (default: the CPU).
        optimized_dir: Keep the optimised graph here and load it on later starts
            (needs ``sha256``, the model file's, to name it).
        sha256: The model file's sha256 (from the package manifest).
        spin: Let idle intra-op threads spin-wait for work (ONNX Runtime's default):
            faster only while the cores are free for this process alone (see the module notes).

    Raises:
        ConfigurationError: A provider is not installed.
        InvalidRecordError: ONNX Runtime cannot load the model.
        MissingDependencyError: onnxruntime is not installed.
    """
    ort = require("onnxruntime", "edge")
    chosen = check_providers(list(providers or DEFAULT_PROVIDERS), ort.get_available_providers())
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    source, written = Path(model), None
    if optimized_dir is not None and sha256:
        cached = optimized_path(Path(optimized_dir), sha256, ort.__version__, chosen)
        if cached.is_file():
            source = cached
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        elif _writable(cached.parent):
            written = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
            options.optimized_model_filepath = str(written)
            options.log_severity_level = 3  # its warning that the file suits only this machine is the point here
    try:
        session = ort.InferenceSession(str(source), sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        if source != Path(model):  # a damaged cached graph: drop it and optimise the model again
            source.unlink(missing_ok=True)
            return build_session(model, threads=threads, providers=providers, optimized_dir=optimized_dir,
                                 sha256=sha256, spin=spin)  # fmt: skip
        raise InvalidRecordError(
            f"ONNX Runtime cannot load {model}: {exc}", hint="rebuild or download the package again"
        ) from exc
    if written is not None and written.is_file():
        written.replace(cached)
    return session
