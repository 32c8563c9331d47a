"""The label store: append-only label records in a Delta table, with point-in-time reads."""

from qiloop.labelstore.append import AppendResult
from qiloop.labelstore.delta import VersionInfo
from qiloop.labelstore.store import LabelStore

__all__ = ["AppendResult", "LabelStore", "VersionInfo"]
