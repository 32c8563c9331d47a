"""Unpack a component archive without trusting it.

A signed deployment fixes the archive's sha256, but the nucleus still refuses
anything an archive could do to the device beyond its own folder: absolute
names, ``..``, links and devices, more entries or bytes than the limits, and
compression ratios that only a bomb has. Entries are written into a fresh
staging folder, sizes are enforced while writing (the sizes in the zip's own
directory may lie), and on any refusal the staging folder is removed.

Whatever makes the archive itself impossible to unpack is a refusal too
(:class:`UnsafeArchiveError`, so the deployment ends REJECTED, not as a failed
install): a corrupt entry (CRC, deflate data, truncation), a declared size the
data does not match, an encrypted entry, a name the file system cannot hold,
and a file and a folder of the same name. A failure of the device itself (a
full disk, an I/O error) is not the archive's fault and stays an ``OSError``.
"""

from __future__ import annotations

import errno
import lzma
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from qiloop.core.errors import InvalidRecordError


class UnsafeArchiveError(InvalidRecordError):
    """An archive tried to leave its folder, hold a link or expand beyond the limits, or cannot be unpacked."""


#: What reading a corrupt entry raises (zipfile, its decompressors, a truncated stream, an unknown method).
CORRUPT = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError)
#: Why the file system refuses a name an archive asks for: the archive's fault, not the device's.
NAME_ERRORS = {
    errno.ENAMETOOLONG: "has a name longer than the file system allows",
    errno.EEXIST: "collides with another entry (a file and a folder of the same name?)",
    errno.ENOTDIR: "collides with another entry (a file and a folder of the same name?)",
    errno.EISDIR: "collides with another entry (a file and a folder of the same name?)",
    errno.EILSEQ: "has a name the file system cannot store",
    errno.EINVAL: "has a name the file system cannot store",
}


@dataclass(frozen=True)
class UnpackLimits:
    max_entries: int = 10_000
    max_total_bytes: int = 512 * 1024 * 1024
    max_ratio: float = 200.0  # uncompressed / compressed, per entry


def safe_member_path(name: str) -> PurePosixPath:
    """The relative path an entry may take, or :class:`UnsafeArchiveError`."""
    if "\\" in name or "\x00" in name:
        raise UnsafeArchiveError(f"archive entry {name!r} has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise UnsafeArchiveError(f"archive entry {name!r} is an absolute path")
    if any(part == ".." for part in path.parts):
        raise UnsafeArchiveError(f"archive entry {name!r} climbs out of its folder (..)")
    if not path.parts or name.strip("/") == "":
        raise UnsafeArchiveError(f"archive entry {name!r} has no name")
    return path


def unpack_zip(archive: str | Path, dest: str | Path, limits: UnpackLimits = UnpackLimits()) -> int:
    """Extract ``archive`` into the new folder ``dest``; the number of files written.

    Raises:
        UnsafeArchiveError: An entry is unsafe or a limit is passed (``dest`` is removed).
        InvalidRecordError: Not a zip file.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    try:
        return _extract(Path(archive), dest, limits)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _extract(archive: Path, dest: Path, limits: UnpackLimits) -> int:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidRecordError(f"{archive.name} is not a zip archive: {exc}") from exc
    with zf:
        members = zf.infolist()
        if len(members) > limits.max_entries:
            raise UnsafeArchiveError(f"archive has {len(members)} entries, more than {limits.max_entries}")
        total, files = 0, 0
        for info in members:
            rel = safe_member_path(info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no type recorded, a plain entry
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeArchiveError(f"archive entry {info.filename!r} is a link or special file")
            if info.flag_bits & 0x1:
                raise UnsafeArchiveError(f"archive entry {info.filename!r} is encrypted")
            if info.file_size > 1 << 20 and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
                raise UnsafeArchiveError(f"archive entry {info.filename!r} expands {info.file_size} bytes (bomb?)")
            out = _create(info, dest.joinpath(*rel.parts))
            if out is None:
                continue
            with out:
                total = _copy(zf, info, out, total, limits)
            files += 1
        return files


def _create(info: zipfile.ZipInfo, target: Path) -> BinaryIO | None:
    """Make the folder an entry names (None), or open its new file; a name the file system refuses is unsafe."""
    try:
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        return open(target, "xb")
    except OSError as exc:
        if exc.errno not in NAME_ERRORS:
            raise  # the device's own failure (disk full, I/O error)
        raise UnsafeArchiveError(f"archive entry {info.filename!r} {NAME_ERRORS[exc.errno]}") from exc


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: BinaryIO, total: int, limits: UnpackLimits) -> int:
    """Stream one entry to disk, counting real bytes against the limits and the declared size."""
    written = 0
    try:
        with zf.open(info) as src:
            while chunk := src.read(1 << 16):
                written += len(chunk)
                total += len(chunk)
                if total > limits.max_total_bytes:
                    raise UnsafeArchiveError(f"archive expands beyond {limits.max_total_bytes} bytes")
                if info.compress_size and written / info.compress_size > limits.max_ratio and written > 1 << 20:
                    raise UnsafeArchiveError(f"archive entry {info.filename!r} expands too far (bomb?)")
                out.write(chunk)
    except CORRUPT as exc:
        raise UnsafeArchiveError(f"archive entry {info.filename!r} is corrupt: {exc}") from exc
    if written != info.file_size:
        raise UnsafeArchiveError(f"archive entry {info.filename!r} declares {info.file_size} bytes but holds {written}")
    return total
