"""The dependency rules of the layout, checked in a fresh interpreter."""

import subprocess
import sys

import pytest

HEAVY = [
    "torch",
    "ultralytics",
    "mlflow",
    "dagster",
    "fastapi",
    "sqlalchemy",
    "deltalake",
    "polars",
    "pyarrow",
    "fsspec",
]


@pytest.mark.parametrize(
    "module",
    [
        "qiloop.core.records",
        "qiloop.core.geometry",
        "qiloop.core.detections",
        "qiloop.settings",
        "qiloop.edge.inference.app",
        "qiloop.cli.edge",
        "qiloop.edge.agent.nucleus",
        "qiloop.cli.agent",
        "qiloop.edge.runtime.detector",
        "qiloop.protocol.messages",
        "qiloop.protocol.mqtt",
        "qiloop.protocol.signed",
        "qiloop.protocol.topics",
    ],
)
def test_device_and_core_modules_import_no_framework(module):
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"{module} pulled in {out}"


def test_cli_help_imports_no_data_framework():
    code = f"import sys; from qiloop.cli.main import app; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"the CLI entry pulled in {out} at import"


def _qiloop_imports(path):
    """The qiloop modules a source file imports (at any depth: lazy imports count too)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.startswith("qiloop.")}


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        ("sim", {"cli", "sim"}),  # the simulated workforce and devices: never imported by services
        ("loop", {"cli", "orchestration", "sim", "loop"}),  # the use cases: wired, never a dependency
    ],
)
def test_only_the_wiring_imports_the_use_cases_and_the_simulation(package, allowed):
    from pathlib import Path

    import qiloop

    root = Path(qiloop.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        owner = path.relative_to(root).parts[0]
        if owner in allowed:
            continue
        hits = sorted(
            m for m in _qiloop_imports(path) if m == f"qiloop.{package}" or m.startswith(f"qiloop.{package}.")
        )
        if hits:
            offenders.append(f"{path.relative_to(root)}: {', '.join(hits)}")
    assert offenders == [], f"qiloop.{package} is imported outside {sorted(allowed)}: {offenders}"


# -- the direction of imports between the layers (STYLE.md "Layout"), by static analysis --------------------------

# What each device-side layer may import of qiloop (besides the root package, which holds only __version__).
LAYERS = {
    "core": {"core"},
    "protocol": {"core", "protocol"},  # the device↔cloud contract: both sides import it
    "edge": {"core", "protocol", "edge"},  # ships to devices
}
# The one part of the device the cloud side reuses, by design: the ONNX runtime, so the HTTP endpoint
# (serving, DESIGN.md "reuses the edge runtime code"), the export parity check and evaluation (training)
# and the model's pre-labels (labeling) see exactly what a device sees. Nothing else of edge.
CLOUD_MAY_IMPORT = {"serving": {"qiloop.edge.runtime"}, "training": {"qiloop.edge.runtime"},
                    "labeling": {"qiloop.edge.runtime"}}  # fmt: skip
# The entry points: they wire everything (the CLI runs the device's commands too).
WIRING = {"cli"}


def _imports_by_file():
    from pathlib import Path

    import qiloop

    root = Path(qiloop.__file__).parent
    for path in sorted(root.rglob("*.py")):
        yield path.relative_to(root), path.relative_to(root).parts[0].removesuffix(".py"), _qiloop_imports(path)


def _package(module: str) -> str:
    """``qiloop.edge.runtime.detector`` → ``edge``; ``qiloop.__version__`` → ``""`` (the root package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and not parts[1].startswith("__")) else ""


def _is_module(module: str) -> bool:
    """Whether an import target names a package or module (not a name imported from one)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_each_device_side_layer_imports_only_the_layers_below_it(layer):
    offenders = [
        f"{path}: {module}"
        for path, owner, modules in _imports_by_file()
        if owner == layer
        for module in sorted(modules)
        if _package(module) not in {"", *LAYERS[layer]}
    ]
    assert offenders == [], f"qiloop.{layer} may import only {sorted(LAYERS[layer])} of qiloop: {offenders}"


def test_the_cloud_side_imports_no_edge_internals():
    offenders, seen = [], set()
    for path, owner, modules in _imports_by_file():
        if owner in LAYERS or owner in WIRING:
            continue
        for module in sorted(m for m in modules if _package(m) == "edge"):
            allowed = CLOUD_MAY_IMPORT.get(owner, set())
            if any(module == a or module.startswith(a + ".") for a in allowed):
                seen.add(owner)
            elif _is_module(module) or module == "qiloop.edge":
                offenders.append(f"{path}: {module}")
    assert offenders == [], f"the cloud side imports the device's internals (use qiloop.protocol): {offenders}"
    assert seen == set(CLOUD_MAY_IMPORT), f"the scan no longer sees the runtime's known users: {sorted(seen)}"


def test_nothing_imports_the_cli():
    offenders = [
        f"{path}: {module}"
        for path, owner, modules in _imports_by_file()
        if owner not in WIRING
        for module in sorted(modules)
        if _package(module) == "cli"
    ]
    assert offenders == [], f"only the entry point imports qiloop.cli: {offenders}"


def test_the_import_scan_sees_lazy_imports_and_names_their_package(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("def f():\n    from qiloop.edge.runtime import OnnxDetector\n    import qiloop.core.records\n")
    assert _qiloop_imports(source) == {"qiloop.edge.runtime", "qiloop.edge.runtime.OnnxDetector", "qiloop.core.records"}
    assert [_package(m) for m in ("qiloop.__version__", "qiloop.settings", "qiloop.edge.runtime")] == [
        "", "settings", "edge"
    ]  # fmt: skip
