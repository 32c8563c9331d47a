"""git_commit: the checked-out commit, +dirty when tracked files changed, None outside git."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from qiloop.training.lineage import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def test_commit_clean_dirty_and_outside(tmp_path):
    assert git_commit(tmp_path) is None
    git(tmp_path, "init", "-q")
    assert git_commit(tmp_path) is None  # no commit yet
    (tmp_path / "a.txt").write_text("one")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "untracked.txt").write_text("ignored")
    assert git_commit(tmp_path / "a.txt") == head  # a file names its folder; untracked files do not count
    (tmp_path / "a.txt").write_text("two")
    assert git_commit(tmp_path) == f"{head}+dirty"
