"""Giving memory back after a large image, so a burst of odd-shaped uploads does not stay resident.

Two things keep memory after a request has finished: the calling worker's cached
resize plans (work buffers sized by the source image, see
:mod:`qiloop.edge.runtime.resize`) and the C allocator, which keeps freed heap
pages for reuse. :func:`give_back` drops the first and asks glibc to return the
second (``malloc_trim``); elsewhere than glibc the second step is skipped.
ONNX Runtime's own arena is not involved: the model's input is always letterboxed
to its fixed size, so its buffers do not depend on the upload.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

from qiloop.edge.runtime.resize import forget_plans


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def give_back() -> None:
    """Drop this thread's resize plans and return free heap pages to the operating system."""
    forget_plans()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
