"""Read a label file as text, or say clearly why it cannot be: the file-level checks of every reader.

A label file is read whole, so it must be a regular file (not ``/dev/zero`` or a
FIFO, which would be read without end or waited on) of bounded size, and UTF-8.
A file that is not UTF-8 is refused naming the line and byte of the first bad
character, before any row is parsed: nothing is half-imported.
"""

from __future__ import annotations

from pathlib import Path

from qiloop.core.errors import FormatError
from qiloop.storage.files import FileRefused, read_regular

MAX_LABEL_FILE_BYTES = 256 * 1024 * 1024


def read_text(path: str | Path, *, max_bytes: int = MAX_LABEL_FILE_BYTES) -> str:
    """The UTF-8 text of the label file at ``path`` (a leading BOM dropped).

    Raises:
        FormatError: The path is no regular file, is larger than ``max_bytes``, or is not UTF-8.
        OSError: The file does not exist or cannot be opened.
    """
    try:
        data = read_regular(path, max_bytes=max_bytes)
    except FileRefused as exc:
        raise FormatError(
            f"cannot read the label file: {exc}",
            source=str(path),
            hint="give the path of a label file; split a file above the limit into several imports",
        ) from None
    return decode_utf8(data, source=str(path))


def decode_utf8(data: bytes, *, source: str) -> str:
    """``data`` decoded as UTF-8 (BOM dropped), or a FormatError naming the line and byte that are not.

    Example:
        >>> decode_utf8(b"a,b\\n\\xe9t\\xe9\\n", source="labels.csv")
        Traceback (most recent call last):
        qiloop.core.errors.FormatError: labels.csv:2: the file is not UTF-8: byte 0xe9 at offset 4 ...
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise FormatError(
            f"the file is not UTF-8: byte 0x{bad} at offset {exc.start} ({exc.reason})",
            source=source,
            line=line,
            hint="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`) and import it again",
        ) from None
