"""Market service: chunked uploads, bounded in size and checked against the client's hash.

The stock client sends a zip in 1 MB chunks (``chunk_begin`` offsets) under the
file's MD5, then asks for it to be added. Chunks land in a per-account file
under ``<market>/uploads/``; the add goes ahead only when the file is complete
(its MD5 matches), is a zip, and unpacks to a bounded size. Partial uploads
older than a day are removed when a worker starts.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
import zipfile
from pathlib import Path

from ..market.learnware_files import remove_older_than
from .replies import BAD_REQUEST, TOO_LARGE, ServiceError

FILE_HASH = re.compile(r"[0-9a-f]{32}")


def read_bounded(upload, limit: int, what: str) -> bytes:
    """The bytes of an uploaded form file, refused (413) past ``limit`` without reading more than one byte over."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ServiceError(TOO_LARGE, f"{what} is larger than the market's limit of {limit} bytes")
    return data


def check_zip(path: Path, max_unzipped_bytes: int) -> None:
    """Refuse what is not a zip, unpacks outside its folder, or unpacks too large (a zip bomb).

    The file is the client's: whatever ``zipfile`` trips on reading its
    directory (a bad header, an unsupported version: NotImplementedError, a
    name that is not UTF-8: UnicodeDecodeError, ...) is the file's fault.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except Exception as err:  # noqa: BLE001 - an untrusted file: any failure to read it is a bad request
        raise ServiceError(BAD_REQUEST, f"the learnware file is not a readable zip: {type(err).__name__}: "
                                        f"{str(err)[:300]}") from None
    total = sum(e.file_size for e in entries)
    if total > max_unzipped_bytes:
        raise ServiceError(TOO_LARGE, f"the learnware unpacks to {total} bytes, more than the market's limit "
                                      f"of {max_unzipped_bytes}")
    for entry in entries:
        name = entry.filename
        if name.startswith(("/", "\\")) or ".." in Path(name).parts:
            raise ServiceError(BAD_REQUEST, f"the learnware zip holds a path outside its folder: {name!r}")


class UploadArea:
    """Partial uploads of every account of one market."""

    def __init__(self, folder: Path, max_bytes: int, expire_after_s: float = 24 * 3600):
        self.folder, self.max_bytes = Path(folder), int(max_bytes)
        self.folder.mkdir(parents=True, exist_ok=True)
        # uploads abandoned half-way (or update files of a crashed worker) do not fill the disk forever
        remove_older_than([*self.folder.glob("*/*.part"), *self.folder.glob("*/*.claimed"),
                           *self.folder.glob("update-*.zip")], expire_after_s)

    def _path(self, email: str, file_hash: str) -> Path:
        if not isinstance(file_hash, str) or not FILE_HASH.fullmatch(file_hash):
            raise ServiceError(BAD_REQUEST, f"file_hash must be the 32 hex digits of the file's MD5, got "
                                            f"{str(file_hash)[:80]!r}")
        account = hashlib.sha256(email.encode()).hexdigest()[:16]
        return self.folder / account / f"{file_hash}.part"

    def write_chunk(self, email: str, file_hash: str, begin: int, data: bytes) -> int:
        """Write one chunk at ``begin``; returns the bytes received so far."""
        path = self._path(email, file_hash)
        if begin < 0:
            raise ServiceError(BAD_REQUEST, f"chunk_begin must be >= 0, got {begin}")
        if begin + len(data) > self.max_bytes:
            raise ServiceError(TOO_LARGE, f"the upload would reach {begin + len(data)} bytes, more than the "
                                          f"market's limit of {self.max_bytes}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if begin > size:
                raise ServiceError(BAD_REQUEST, f"chunk_begin {begin} leaves a gap: only {size} bytes of this "
                                                "file have arrived")
            os.pwrite(fd, data, begin)
            return max(size, begin + len(data))
        finally:
            os.close(fd)

    def claim(self, email: str, file_hash: str) -> Path:
        """Take the uploaded file for one submission, once every byte has arrived (its MD5 is ``file_hash``).

        The file is renamed to a name of this claim's own first (atomic), so
        of several adds of one upload exactly one gets it and the others hear
        that it is gone, not a loader's error about a vanished file. The
        caller removes the claimed file when done; a corrupt one is removed
        here (the client uploads it again).
        """
        path = self._path(email, file_hash)
        claimed = path.with_name(f"{file_hash}.{uuid.uuid4().hex}.claimed")
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            raise ServiceError(BAD_REQUEST, f"no upload with file_hash {file_hash} from this account (never sent, "
                                            "or already submitted); send it to /user/chunked_upload first") from None
        digest = hashlib.md5()
        with open(claimed, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != file_hash:
            size = claimed.stat().st_size
            claimed.unlink(missing_ok=True)
            raise ServiceError(BAD_REQUEST, f"the upload with file_hash {file_hash} is incomplete or corrupt "
                                            f"(its {size} bytes hash to {digest.hexdigest()}); send it again")
        return claimed
