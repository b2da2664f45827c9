"""export never deletes or overwrites what it did not write, and a killed or failed export
leaves nothing the next one refuses (issue 19, items 5 and 7). Through the real CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fakesite import FakeSite
from mounts import cli_line, run_with_mounts, skip_without_private_mounts, small_disk
from runcli import kremlin


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("made") / "a.db"
    with FakeSite(n_pages=12, seed=5, chrome=True) as site:
        result = kremlin("crawl", "--db", db, "--base-url", site.url, "--delay", "0")
    assert result.returncode == 0, result.stderr
    return db


def export(db: Path, out: Path, fmt: str = "txt", *args: str):
    return kremlin("export", "--db", db, "--format", fmt, "--out", out, *args)


def manifest_listing(out: Path, *names: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    files = [{"name": n, "records": 1, "bytes": 1, "sha256": "0" * 64} for n in names]
    (out / "manifest.json").write_text(json.dumps({"files": files}), encoding="utf-8")


# --- item 5: a manifest names the files to replace; only plain names in the folder --------


def test_a_manifest_naming_paths_outside_the_folder_deletes_nothing(archive, tmp_path):
    """export --out evil deleted ../victim.txt and /abs/victim2.txt and exited 0."""
    victim, victim2 = tmp_path / "victim.txt", tmp_path / "abs" / "victim2.txt"
    victim2.parent.mkdir()
    for path in (victim, victim2):
        path.write_text("mine\n", encoding="utf-8")
    evil = tmp_path / "evil"
    manifest_listing(evil, "../victim.txt", str(victim2))
    result = export(archive, evil)
    assert result.returncode == 1
    assert "lists '../victim.txt', which is not a file name an export writes" in result.stderr
    assert "nothing was replaced or removed" in result.stderr
    assert victim.read_text(encoding="utf-8") == victim2.read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in evil.iterdir()) == ["manifest.json"]


def test_a_manifest_naming_a_folder_is_refused_without_a_traceback(archive, tmp_path):
    out = tmp_path / "out"
    (out / "keep").mkdir(parents=True)
    (out / "keep" / "notes.txt").write_text("mine\n", encoding="utf-8")
    manifest_listing(out, "keep")
    result = export(archive, out)
    assert result.returncode == 1
    assert "lists 'keep', which is a folder or a special file" in result.stderr
    assert "Traceback" not in result.stderr
    assert (out / "keep" / "notes.txt").read_text(encoding="utf-8") == "mine\n"


def test_a_link_planted_under_a_part_name_is_never_written_through(archive, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "events.jsonl.part").symlink_to(victim)
    result = export(archive, out, "jsonl")
    assert result.returncode == 0, result.stderr
    assert victim.read_text(encoding="utf-8") == "mine\n"
    assert not (out / "events.jsonl").is_symlink()


# --- item 7: what a killed or failed export leaves behind ---------------------------------


def test_the_part_file_of_a_killed_export_is_tidied_by_the_next(archive, tmp_path):
    """A leftover .part made the next export refuse the folder."""
    out = tmp_path / "out"
    assert export(archive, out, "jsonl").returncode == 0
    (out / "events.jsonl.part").write_bytes(b'{"half": ')  # killed while writing
    result = export(archive, out, "jsonl")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["events.jsonl", "manifest.json"]


def test_a_txt_export_killed_before_its_manifest_is_tidied_by_the_next(archive, tmp_path):
    """A txt export killed midway left files no manifest listed: the folder was refused.
    Now such an export leaves its pending manifest, which lists them."""
    out = tmp_path / "out"
    assert export(archive, out).returncode == 0
    names = sorted(p.name for p in out.iterdir())
    done = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for path in out.iterdir():
        path.unlink()
    first, second = [n for n in names if n != "manifest.json"][:2]
    (out / first).write_text("moved into place\n", encoding="utf-8")
    (out / (second + ".part")).write_text("not yet\n", encoding="utf-8")
    (out / "manifest.json.part").write_text(json.dumps(done), encoding="utf-8")
    result = export(archive, out)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == names
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == done


def jsonl_bytes(db: Path, tmp_path: Path, *args: str) -> int:
    """The size of a jsonl export of ``db`` (made on a disk with room)."""
    out = tmp_path / f"measure{len(args)}"
    assert export(db, out, "jsonl", *args).returncode == 0
    return (out / "events.jsonl").stat().st_size


def test_an_export_that_fills_the_disk_removes_its_files_and_says_so(archive, tmp_path):
    """The abort path raised OSError again (a traceback) and left the .part file."""
    skip_without_private_mounts()
    kib = max(8, jsonl_bytes(archive, tmp_path) // 2048)  # room for half the file
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "out"
    then = (
        f"echo mine > {disk}/earlier.txt; "
        f"{cli_line('export', '--db', archive, '--format', 'jsonl', '--out', out)}"
        f" || echo exit=$?; ls -A {disk}; ls -A {out} 2>/dev/null | sed 's/^/out: /'"
    )
    result = run_with_mounts(small_disk(disk, kib), then)
    assert "Traceback" not in result.stderr
    assert "exit=1" in result.stdout, result.stdout
    assert "No space left on device" in result.stderr
    assert "the unfinished export and its folder" in result.stderr
    listed = result.stdout.split()
    assert "earlier.txt" in listed and "out" not in listed  # the folder it made is gone too


def test_an_export_into_a_full_folder_keeps_the_earlier_export(archive, tmp_path):
    skip_without_private_mounts()
    whole = jsonl_bytes(archive, tmp_path)
    since = "2020-08-27"
    small = jsonl_bytes(archive, tmp_path, "--since", since)
    assert small < whole // 2
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "out"
    first = cli_line("export", "--db", archive, "--format", "jsonl", "--out", out, "--since", since)
    second = cli_line("export", "--db", archive, "--format", "jsonl", "--out", out)
    then = f"{first}; cp {out}/events.jsonl {tmp_path}/before; {second} || echo exit=$?; "
    then += f"cmp {out}/events.jsonl {tmp_path}/before && echo same; ls -A {out}"
    result = run_with_mounts(small_disk(disk, (small + whole // 2) // 1024 + 8), then)
    assert "exit=1" in result.stdout, result.stderr
    assert "the unfinished files of this export were removed, and whatever was in" in (
        result.stderr
    )
    assert "same" in result.stdout.split()  # the earlier export as it was
    assert sorted(result.stdout.split()[-2:]) == ["events.jsonl", "manifest.json"]


def test_a_stranger_part_file_is_still_a_stranger(archive, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.part").write_text("mine\n", encoding="utf-8")
    result = export(archive, out)
    assert result.returncode == 1
    assert "thesis.part" in result.stderr
    assert (out / "thesis.part").exists()
    assert os.listdir(out) == ["thesis.part"]
