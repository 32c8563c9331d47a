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
