"""Which HTTP status each qiloop error becomes, and the body that says why."""

import pytest

from qiloop.core.errors import (
    ConfigurationError,
    FormatError,
    ImageRejectedError,
    InvalidRecordError,
    MissingDependencyError,
    NotFoundError,
    QiloopError,
    StoreError,
)
from qiloop.serving.errors import ImageTooLargeError, ServiceUnavailableError, error_body, http_status


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ImageTooLargeError("a.jpg", "too large"), 413),
        (ImageRejectedError("a.jpg", "not an image"), 422),
        (FormatError("bad row", source="labels.csv", line=3), 422),
        (ConfigurationError("bad option"), 400),
        (NotFoundError("no such version"), 404),
        (ServiceUnavailableError("no model yet"), 503),
        (StoreError("registry down"), 503),
        (MissingDependencyError("onnxruntime", "edge"), 500),
        (InvalidRecordError("model output has the wrong shape"), 500),
        (QiloopError("anything else"), 500),
    ],
)
def test_http_status(error, status):
    assert http_status(error) == status


def test_error_body_says_what_and_what_to_do():
    body = error_body(ImageRejectedError("a.jpg", "not a readable image", hint="send a JPEG or PNG"))
    assert body == {
        "error": "ImageRejectedError",
        "message": "a.jpg: not a readable image",
        "hint": "send a JPEG or PNG",
    }
