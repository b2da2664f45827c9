"""benchmarks/run.py keeps working: a smoke run on a tiny site, and the chrome it serves."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from fakesite import generate_page, render_event_page
from kremlin_archive.normalize import parse_event_page

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
README = "# Benchmarks\n\n## Normalizer\n\nTheir section.\n"


def load_run_module():
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_run_writes_the_summary_table_above_the_other_sections(tmp_path):
    out = tmp_path / "README.md"
    out.write_text(README)
    command = [sys.executable, str(RUN), "--pages", "30", "--quick", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\n## Summary (benchmarks/run.py)\n")
    assert text.endswith("## Normalizer\n\nTheir section.\n")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 12  # header, separator, ten figures
    assert "| re-check of every page: new versions | 0 (" in text
    assert "| incremental run, nothing new: requests sent | 2 (" in text


def test_a_new_run_replaces_the_summary_and_keeps_the_rest(tmp_path):
    run = load_run_module()
    out = tmp_path / "README.md"
    out.write_text(README)
    run.write_section(out, f"{run.SECTION}\n\nfirst\n")
    run.write_section(out, f"{run.SECTION}\n\nsecond\n")
    text = out.read_text()
    assert text == f"# Benchmarks\n\n{run.SECTION}\n\nsecond\n\n## Normalizer\n\nTheir section.\n"


def test_chrome_makes_pages_real_sized_and_leaves_the_transcript_alone():
    rng = random.Random(3)
    for index in range(20):
        page = generate_page(rng, 61000 + index, datetime(2021, 5, 1, 12, 0))
        plain, wrapped = render_event_page(page), render_event_page(page, chrome=True)
        assert 35_000 <= len(wrapped.encode()) <= 50_000
        assert parse_event_page(wrapped, page.url) == parse_event_page(plain, page.url)


def test_the_warc_benchmark_runs_and_its_round_trip_holds(tmp_path):
    script = RUN.with_name("warc.py")
    command = [sys.executable, str(script), "--pages", "5", "--workdir", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| export --format warc | " in done.stdout
    assert "| round trip: same versions, times and hashes | True |" in done.stdout


def test_the_wayback_benchmark_runs_and_checks_its_history(tmp_path):
    out = tmp_path / "README.md"
    out.write_text(README)
    script = RUN.with_name("wayback_backfill.py")
    command = [sys.executable, str(script), "--pages", "6", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith(README)
    assert "## Wayback backfill (benchmarks/wayback_backfill.py)" in text
    assert "same history as the backfill alone: yes" in text
    assert "| second backfill, nothing new | 1 requests (0 replays)" in text


def test_scale_builds_a_small_archive_and_writes_every_read_figure(tmp_path):
    script = RUN.parent / "scale.py"
    out = tmp_path / "README.md"
    out.write_text(README)
    command = [sys.executable, str(script), "--pages", "16", "--samples", "5", "--queries", "3"]
    command += ["--workdir", str(tmp_path / "work"), "--out", str(out)]
    command += ["--baseline", str(RUN.parent.parent / "src")]  # this code, for the mechanism
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.endswith("\n") and "## Normalizer\n\nTheir section.\n" in text
    assert "16 pages, 48 versions" in text
    assert "| figure | measured | baseline (older code, same file) | goal |" in text
    figures = ("`search`", "`history`", "`show`", "`diff`", "`changes --since", "`list --since")
    for figure in figures:
        (row,) = [line for line in text.splitlines() if line.startswith(f"| {figure}")]
        assert row.count(" ms") >= 2, row  # measured and baseline
    assert "`export --format jsonl`" in text and "`kremlin-archive verify`" in text
    assert (tmp_path / "work" / "scale-16-0.db").is_file()  # cached for the next run


def test_the_export_benchmark_reports_the_export_s_peak_memory_not_its_own(tmp_path):
    """scale.py holds 300 MB of search results when it measures the export; the figure is
    the export's own (about 35 MB), not that (Linux carries a parent's peak into a child's
    ``ru_maxrss``)."""
    db, out = tmp_path / "bench.db", tmp_path / "out"
    script = (
        f"import sys; sys.path.insert(0, {str(RUN.parent)!r}); from pathlib import Path\n"
        "import export\n"
        f"export.build_archive(Path({str(db)!r}), 3)\n"
        "held = b'x' * (256 << 20)  # written, so resident\n"
        f"print(export.run_export(Path({str(db)!r}), 'jsonl', Path({str(out)!r}))[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    peak_mb = float(done.stdout.split()[-1])
    assert 5 < peak_mb < 128
