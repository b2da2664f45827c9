"""Export: every format, deterministic bytes, a manifest that checks out, safe names."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pty
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawled import Crawled
from kremlin_archive.archive import Archive
from kremlin_archive.changeset import text_sha256
from kremlin_archive.cli import main
from kremlin_archive.export import (
    COLUMNS,
    ExportOptions,
    FileEntry,
    _stream,
    _write_json,
    build_manifest,
    export_archive,
    render_csv_line,
    txt_name,
)
from kremlin_archive.lookup import Record


def export(crawled: Crawled, out: Path, fmt: str, *options: str) -> str:
    args = ["export", "--db", str(crawled.db), "--format", fmt, "--out", str(out), *options]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def show(crawled: Crawled, *args: str) -> str:
    result = CliRunner().invoke(main, ["show", *args, "--db", str(crawled.db)])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "txt", "turns"])
@pytest.mark.parametrize("all_versions", [False, True], ids=["latest", "all-versions"])
def test_exporting_twice_gives_identical_bytes(crawled, tmp_path, fmt, all_versions):
    extra = ["--all-versions"] if all_versions else []
    export(crawled, tmp_path / "a", fmt, *extra)
    export(crawled, tmp_path / "b", fmt, *extra)
    first, second = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    assert first == second
    assert "manifest.json" in first and len(first) >= 2


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "txt", "turns"])
def test_manifest_hashes_every_file_and_records_the_archive(crawled, tmp_path, fmt):
    export(crawled, tmp_path, fmt)
    manifest = manifest_of(tmp_path)
    written = files_of(tmp_path)
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(listed) == set(written) - {"manifest.json"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(written[name]).hexdigest()
        assert entry["bytes"] == len(written[name])
    with Archive(crawled.db) as archive:
        last = archive.conn.execute("SELECT max(captured_at) FROM captures").fetchone()[0]
    assert manifest["archive"]["last_captured_at"] == last
    assert manifest["archive"]["pages"] == len(crawled.site.ids)
    assert manifest["archive"]["versions"] == len(crawled.site.ids) + 2
    assert manifest["archive"]["schema_version"] >= 1
    assert manifest["counts"]["files"] == len(listed)
    assert manifest["format"] == fmt
    assert not list(tmp_path.glob("*.part"))


def test_manifest_is_indented_json_with_sorted_keys_and_a_final_newline(crawled, tmp_path):
    export(crawled, tmp_path, "txt")
    text = (tmp_path / "manifest.json").read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def test_a_manifest_of_many_files_is_written_without_holding_its_text(tmp_path):
    """A txt export of 160,000 events lists 160,000 files: the manifest's text (and the
    pieces json.dumps joins into it) is never held whole while it is written."""
    files = [FileEntry(f"kremlin.ru-{n}.txt", 1, 9_000 + n, f"{n:064x}") for n in range(20_000)]
    manifest = build_manifest(ExportOptions("txt", tmp_path), {"pages": 20_000}, files)
    tracemalloc.start()
    try:
        _stream(tmp_path / "manifest.json", lambda out: _write_json(out, manifest))
        held = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    part = tmp_path / "manifest.json.part"
    text = part.read_text(encoding="utf-8")
    assert json.loads(text)["files"][-1]["name"] == "kremlin.ru-19999.txt"
    assert held < len(text) / 4  # 3.5 MB of text: about 0.5 MB held, json.dumps held 20 MB


def test_txt_export_of_each_event_equals_show(crawled, tmp_path):
    export(crawled, tmp_path, "txt")
    names = sorted(p.name for p in tmp_path.glob("*.txt"))
    assert names == sorted(f"{event_id}.txt" for event_id in crawled.site.ids)
    for event_id in crawled.site.ids:
        text = (tmp_path / f"{event_id}.txt").read_text(encoding="utf-8")
        assert text + "\n" == show(crawled, str(event_id))
        assert not text.endswith("\n")  # FORMAT.md: no trailing newline


def test_txt_export_of_all_versions_has_one_file_per_version(crawled, tmp_path):
    export(crawled, tmp_path, "txt", "--all-versions")
    for seq in (1, 2, 3):
        text = (tmp_path / f"{crawled.edited}-v{seq}.txt").read_text(encoding="utf-8")
        assert text + "\n" == show(crawled, str(crawled.edited), "--version", str(seq))
    assert manifest_of(tmp_path)["counts"]["records"] == len(crawled.site.ids) + 2


def test_jsonl_has_one_record_per_event_with_fields_text_version_and_hashes(crawled, tmp_path):
    export(crawled, tmp_path, "jsonl")
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    records = {r["event_id"]: r for r in map(json.loads, lines)}
    assert sorted(records) == sorted(crawled.site.ids)
    edited = records[crawled.edited]
    assert list(edited) == list(COLUMNS)
    assert edited["version"] == 3
    assert edited["title"] == crawled.new_title
    assert edited["text"] + "\n" == show(crawled, str(crawled.edited))
    assert edited["text_sha256"] == text_sha256(edited["text"])
    assert isinstance(edited["tags"], dict) and isinstance(edited["turns"], list)


def test_jsonl_all_versions(crawled, tmp_path):
    export(crawled, tmp_path, "jsonl", "--all-versions")
    lines = (tmp_path / "versions.jsonl").read_text(encoding="utf-8").splitlines()
    versions = [(r["event_id"], r["version"]) for r in map(json.loads, lines)]
    assert versions == sorted(versions)
    assert [v for e, v in versions if e == crawled.edited] == [1, 2, 3]
    assert len(versions) == len(crawled.site.ids) + 2


def test_csv_has_the_same_records_with_lists_as_json(crawled, tmp_path):
    export(crawled, tmp_path, "csv")
    export(crawled, tmp_path / "j", "jsonl")
    with (tmp_path / "events.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    jsonl = (tmp_path / "j" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(jsonl)
    for row, record in zip(rows, map(json.loads, jsonl), strict=True):
        assert list(row) == list(COLUMNS)
        assert row["text"] == record["text"]  # newlines survive the quoting
        assert json.loads(row["tags"]) == record["tags"]
        assert json.loads(row["turns"]) == record["turns"]
        assert int(row["version"]) == record["version"]


def test_turns_have_one_line_per_speaker_turn_in_order(crawled, tmp_path):
    export(crawled, tmp_path, "turns")
    export(crawled, tmp_path / "j", "jsonl")
    turns = [json.loads(x) for x in (tmp_path / "turns.jsonl").read_text().splitlines()]
    records = [json.loads(x) for x in (tmp_path / "j" / "events.jsonl").read_text().splitlines()]
    expected = [
        (r["event_id"], r["date"], r["version"], number, speaker, text)
        for r in records
        for number, (speaker, text) in enumerate(r["turns"], 1)
    ]
    assert expected, "the fake site has speaker turns"
    got = [
        (t["event_id"], t["date"], t["version"], t["turn"], t["speaker"], t["text"]) for t in turns
    ]
    assert got == expected
    assert all(t["site"] == "en.kremlin.ru" for t in turns)


def test_since_keeps_events_of_that_day_or_later(crawled, tmp_path):
    export(crawled, tmp_path / "all", "jsonl")
    records = [json.loads(x) for x in (tmp_path / "all" / "events.jsonl").read_text().splitlines()]
    day = sorted(r["date"] for r in records)[len(records) // 2]
    export(crawled, tmp_path / "recent", "jsonl", "--since", day)
    manifest = manifest_of(tmp_path / "recent")
    recent = [
        json.loads(x) for x in (tmp_path / "recent" / "events.jsonl").read_text().splitlines()
    ]
    assert recent == [r for r in records if r["date"] >= day]
    assert manifest["since"] == day
    assert manifest["counts"]["records"] == len(recent) < len(records)


def test_without_a_terminal_there_is_no_progress_bar(crawled, tmp_path):
    args = ["export", "--db", str(crawled.db), "--format", "txt", "--out", str(tmp_path)]
    result = CliRunner().invoke(main, [*args, "--log-level", "WARNING"])
    assert result.exit_code == 0
    count = len(crawled.site.ids)
    assert result.output == f"exported {count} records in {count} files to {tmp_path}\n"


def test_a_new_export_replaces_an_earlier_one_in_the_same_folder(crawled, tmp_path):
    folder = tmp_path / "out"
    export(crawled, folder, "txt", "--all-versions")
    export(crawled, folder, "jsonl")
    assert sorted(files_of(folder)) == ["events.jsonl", "manifest.json"]
    assert manifest_of(folder)["format"] == "jsonl"


def test_a_folder_with_other_files_is_refused_and_left_alone(crawled, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(
        main, ["export", "--db", str(crawled.db), "--format", "txt", "--out", str(folder)]
    )
    assert result.exit_code == 1
    assert "not from an earlier export (notes.txt)" in result.output
    assert files_of(folder) == {"notes.txt": b"keep me"}


def test_an_export_into_a_file_is_a_clear_error(crawled, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = CliRunner().invoke(
        main, ["export", "--db", str(crawled.db), "--format", "csv", "--out", str(target)]
    )
    assert result.exit_code == 2
    assert "is a file" in result.output


def record(site: str, event_id: int = 5, seq: int = 1) -> Record:
    class FakeVersion:
        pass

    version = FakeVersion()
    version.seq = seq
    return Record(site, event_id, "http://x", version)


@pytest.mark.parametrize(
    ("site", "seq", "all_versions", "name"),
    [
        ("en.kremlin.ru", 1, False, "5.txt"),
        ("kremlin.ru", 1, False, "kremlin.ru-5.txt"),
        ("en.kremlin.ru", 3, True, "5-v3.txt"),
        ("../../etc", 1, False, "etc-5.txt"),
        ("a/b\\c:d", 2, True, "a_b_c_d-5-v2.txt"),
        ("..", 1, False, "site-5.txt"),
    ],
)
def test_txt_names_are_safe(site, seq, all_versions, name):
    assert txt_name(record(site, 5, seq), all_versions) == name


def test_export_memory_does_not_hold_the_records(crawled, tmp_path):
    """Records reach the writer one at a time: the progress callback sees each before the
    next is read, and the file grows while the export runs."""
    sizes: list[int] = []

    def progress(step: int) -> None:
        assert step == 1
        part = tmp_path / "events.jsonl.part"
        sizes.append(part.stat().st_size if part.exists() else -1)

    with Archive(crawled.db) as archive:
        export_archive(archive, ExportOptions("jsonl", tmp_path), progress)
    assert len(sizes) == len(crawled.site.ids)
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]


def test_on_a_terminal_a_progress_bar_shows(crawled, tmp_path):
    main_side, terminal = pty.openpty()
    args = ["export", "--db", crawled.db, "--format", "jsonl", "--out", tmp_path]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kremlin_archive", *map(str, args), "--log-level", "ERROR"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
        )
        drawn = os.read(main_side, 65536).decode()
    finally:
        os.close(terminal)
        os.close(main_side)
    assert done.returncode == 0
    assert "100%" in drawn
    assert done.stdout.decode().startswith("exported ")


@pytest.mark.parametrize(
    "values",
    [
        ["plain", 1, None, ""],
        ['say "hi"', "a,b", "two\nlines", "cr\r\nlf"],
        [{"Topics": ["A, B"]}, ["x"], 0, "ü – «»"],
    ],
    ids=["plain", "quoting", "json"],
)
def test_csv_lines_are_what_the_csv_module_writes(values):
    expected = io.StringIO()
    cells = [json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v for v in values]
    csv.writer(expected, lineterminator="\r\n").writerow(cells)
    assert render_csv_line(values) == expected.getvalue()
