"""How the torch engine touches files, by the rules of the tfjs engine's src/trainer/files.ts and
src/trainer/checksums.ts: every read bounded, every write atomic and durable, every saved folder
listed in a SHA256SUMS file (`sha256sum -c SHA256SUMS` checks it by hand).

- `open_regular` refuses what is not a regular file (a FIFO, a device such as /dev/zero, a
  directory) before reading a byte; O_NONBLOCK so that opening a FIFO cannot wait forever.
- `write_file_durable` / `fsync_dir`: a file is flushed before it is renamed into place, and the
  folder after.
- `write_sums` / `verify_sums`: the manifest written last into a checkpoint or model folder, and
  its check on resume.
- `disk_full_message`: the one wording of a full disk (ENOSPC/EDQUOT), the same as files.ts.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from typing import BinaryIO, Callable, Dict, List, Optional, Tuple

SUMS_FILE = "SHA256SUMS"
# A SHA256SUMS file lists a handful of files: anything longer is not one.
SUMS_MAX_BYTES = 64 * 1024
READ_CHUNK_BYTES = 1 << 20


class FileKindError(OSError):
    """The path exists but is not a regular file; the message names it and what it is."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str) -> Tuple[BinaryIO, int]:
    """(binary file, size when opened) for a regular file; FileKindError for anything else. The
    check is made on the opened descriptor (fstat), so a path swapped in between cannot pass."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileKindError(errno.EINVAL, f"{path} is {_kind(st.st_mode)}, not a regular file")
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return f, st.st_size


def is_disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full_message(directory: str, resume_epoch: Optional[int] = None) -> str:
    """src/trainer/files.ts `diskFullMessage`, word for word."""
    message = f"the disk holding {directory} is full: free space and retry the run"
    if resume_epoch is None:
        return message
    if resume_epoch > 0:
        return f"{message}; it resumes from epoch {resume_epoch}"
    return f"{message}; it starts from the beginning (there is no checkpoint yet)"


def fsync_dir(directory: str) -> None:
    """Flushes a folder's entries (a rename into it); skipped where the platform cannot."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as err:
        if is_disk_full(err):
            raise
    finally:
        os.close(fd)


def write_file_durable(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Creates `path` (it must not exist), lets `write` fill it, and flushes it to disk."""
    with open(path, "xb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def sha256_file(path: str) -> str:
    """The hex sha256 of a regular file, read in chunks (memory stays one chunk)."""
    f, _size = open_regular(path)
    digest = hashlib.sha256()
    with f:
        while True:
            chunk = f.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def write_sums(directory: str) -> None:
    """Writes SHA256SUMS (coreutils format) for every file in the folder, durably. Written last:
    a folder whose SHA256SUMS is missing was never completed."""
    names = sorted(n for n in os.listdir(directory) if n != SUMS_FILE)
    lines = "".join(f"{sha256_file(os.path.join(directory, n))}  {n}\n" for n in names)
    write_file_durable(os.path.join(directory, SUMS_FILE), lambda f: f.write(lines.encode()))


def read_sums(directory: str) -> Dict[str, str]:
    """{name: sha256} from the folder's SHA256SUMS; ValueError when it is malformed."""
    f, size = open_regular(os.path.join(directory, SUMS_FILE))
    with f:
        if size > SUMS_MAX_BYTES:
            raise ValueError(f"{SUMS_FILE} is {size} bytes, too long for a checksum list")
        text = f.read(SUMS_MAX_BYTES).decode("utf-8")
    sums: Dict[str, str] = {}
    for line in text.splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or "/" in name or name in sums:
            raise ValueError(f"{SUMS_FILE} has a malformed line {line[:80]!r}")
        sums[name] = digest
    return sums


def verify_sums(directory: str) -> Optional[str]:
    """None when the folder holds exactly the files its SHA256SUMS lists, each with its sha256;
    else what is wrong (for a warning). A missing SHA256SUMS is reported like any damage."""
    try:
        sums = read_sums(directory)
    except FileNotFoundError:
        return f"it has no {SUMS_FILE} (it was never completed)"
    except (OSError, ValueError, UnicodeDecodeError) as err:
        return f"its {SUMS_FILE} is unreadable ({err})"
    present = sorted(n for n in os.listdir(directory) if n != SUMS_FILE)
    unlisted: List[str] = [n for n in present if n not in sums]
    if unlisted:
        return f"{unlisted[0]} is not in its {SUMS_FILE}"
    for name, digest in sums.items():
        try:
            actual = sha256_file(os.path.join(directory, name))
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as err:
            return f"{name} is unreadable ({err})"
        if actual != digest:
            return f"{name} does not match its sha256 in {SUMS_FILE} (the file is damaged)"
    return None
