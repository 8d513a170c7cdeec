"""files.py: SHA256SUMS written last and checked on resume (coreutils format)."""

import hashlib
import os
from pathlib import Path

from nin_torch.files import SUMS_FILE, disk_full_message, verify_sums, write_sums


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "model.pt").write_bytes(b"weights")
    (tmp_path / "checkpoint.json").write_text('{"epoch": 1}')
    write_sums(str(tmp_path))
    return tmp_path


def test_sums_are_coreutils_lines(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    text = (folder / SUMS_FILE).read_text()
    digest = hashlib.sha256(b"weights").hexdigest()
    assert text.splitlines()[1] == f"{digest}  model.pt"
    assert verify_sums(str(folder)) is None


def test_damage_is_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "model.pt").write_bytes(b"weightz")
    assert "model.pt does not match" in (verify_sums(str(folder)) or "")


def test_missing_extra_and_unfinished_are_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "stray.bin").write_bytes(b"")
    assert "stray.bin is not in" in (verify_sums(str(folder)) or "")
    os.remove(folder / "stray.bin")
    os.remove(folder / "model.pt")
    assert verify_sums(str(folder)) == "model.pt is missing"
    os.remove(folder / SUMS_FILE)
    assert "never completed" in (verify_sums(str(folder)) or "")


def test_malformed_sums_are_unreadable(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / SUMS_FILE).write_text("not a checksum line\n")
    assert "unreadable" in (verify_sums(str(folder)) or "")


def test_disk_full_says_what_to_do() -> None:
    assert disk_full_message("/runs/r1", 3) == (
        "the disk holding /runs/r1 is full: free space and retry the run; it resumes from epoch 3"
    )
