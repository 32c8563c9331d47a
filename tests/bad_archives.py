"""Zip archives that cannot be unpacked safely, crafted byte by byte for the nucleus's tests.

Each is a real zip: Python's ``zipfile`` lists it without complaint; only unpacking
shows the fault (a file and a folder of the same name, a name longer than a file
system allows, a CRC that does not match the data, a declared size that lies).
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile

REGULAR = stat.S_IFREG | 0o644
FOLDER = stat.S_IFDIR | 0o755
APP = b"print('hello')\n" * 40
# (local header offset, central directory offset) of each field, relative to its record
_FIELDS = {"crc": (14, 16), "file_size": (22, 24)}


def build_zip(entries: list[tuple[str, bytes, int]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A reproducible zip of ``(name, data, mode)`` entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            info.compress_type = method
            archive.writestr(info, data)
    return buffer.getvalue()


def patch_field(data: bytes, name: str, field: str, change) -> bytes:
    """``data`` with the 32-bit ``field`` of entry ``name`` replaced by ``change(old)`` in both its headers."""
    out = bytearray(data)
    local_at, central_at = _FIELDS[field]
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    _rewrite(out, info.header_offset + local_at, change)
    eocd = data.rfind(b"PK\x05\x06")
    record = struct.unpack_from("<I", data, eocd + 16)[0]
    while data[record : record + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack_from("<HHH", data, record + 28)
        if data[record + 46 : record + 46 + n].decode() == name:
            _rewrite(out, record + central_at, change)
        record += 46 + n + m + k
    return bytes(out)


def _rewrite(out: bytearray, at: int, change) -> None:
    struct.pack_into("<I", out, at, change(struct.unpack_from("<I", out, at)[0]) & 0xFFFFFFFF)


def file_and_folder_of_one_name() -> bytes:
    """``lib`` as a file, then ``lib/`` as a folder."""
    return build_zip([("app.py", APP, REGULAR), ("lib", b"x", REGULAR), ("lib/", b"", FOLDER)])


def overlong_name() -> bytes:
    """An entry whose name (300 bytes) no common file system can hold."""
    return build_zip([("app.py", APP, REGULAR), ("n" * 300 + ".py", b"x", REGULAR)])


def crc_mismatch() -> bytes:
    """``data.bin`` whose CRC-32 in both headers is not its data's."""
    good = build_zip([("app.py", APP, REGULAR), ("data.bin", bytes(range(256)) * 8, REGULAR)])
    return patch_field(good, "data.bin", "crc", lambda crc: crc ^ 0xFFFFFFFF)


def declared_size_lies(delta: int) -> bytes:
    """``data.bin`` whose headers declare ``delta`` bytes more (or fewer) than it holds."""
    good = build_zip([("app.py", APP, REGULAR), ("data.bin", bytes(range(256)) * 8, REGULAR)])
    return patch_field(good, "data.bin", "file_size", lambda size: size + delta)


#: name → archive bytes: every way an archive fails to unpack that the nucleus must answer with REJECTED
UNPACKABLE = {
    "file-and-folder": file_and_folder_of_one_name(),
    "name-too-long": overlong_name(),
    "crc-mismatch": crc_mismatch(),
    "size-larger-than-data": declared_size_lies(+100),
    "size-smaller-than-data": declared_size_lies(-100),
}
#: name → what the REJECTED report's detail says
REASONS = {
    "file-and-folder": "collides with another entry",
    "name-too-long": "longer than the file system allows",
    "crc-mismatch": "Bad CRC-32",
    "size-larger-than-data": "declares 2148 bytes but holds 2048",
    "size-smaller-than-data": "Bad CRC-32",
}
