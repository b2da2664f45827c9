"""``status``: what the archive holds, how its runs went, whether a service serves it.

Gathered through the archive's read methods in one snapshot, plus the service's state
file (``locks``); rendered as lines of text for people or left as a dict for ``--json``.
Reads only.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from .archive import RUN_COUNTS, RUN_IMPORT_COUNTS, Archive
from .config import Config
from .errors import NotArchived
from .locks import pid_alive, read_state, state_path
from .recheck import RecheckCandidate, budget_report, candidates_of, render_budget
from .timeutil import utc_clock


def gather_status(config: Config) -> dict[str, Any]:
    """What ``status`` shows: the archive's size, its runs, and the service if one runs."""
    db = config.database
    if not db.path.exists():
        raise NotArchived(f"no archive at {db.path} (run crawl or serve first)")
    with (
        Archive(db.path, busy_timeout=db.busy_timeout, read_only=True) as archive,
        archive.snapshot(),
    ):
        status: dict[str, Any] = {"database": str(db.path)}
        status["database_bytes"] = database_bytes(db.path)
        status |= archive.page_counts()
        status["runs"] = count_runs(archive.run_outcomes())
        status["last_runs"] = last_runs(archive.last_runs())
        status["last_run_failures"] = archive.last_run_failures()
        status["budget"] = recheck_budgets(candidates_of(archive.recheck_candidates()), config)
        status["frontier"] = archive.frontier_summary()
        status["notifications"] = archive.notification_summary()
    state = read_state(state_path(db.path))
    status["service"] = {"running": True} | state if state else {"running": False}
    return status


def recheck_budgets(pages: list[RecheckCandidate], config: Config) -> dict[str, dict]:
    """For each site with pages: does the request budget cover the recheck policy?"""
    now = utc_clock()
    budgets = {}
    for site in sorted({page.site for page in pages}):
        report = budget_report((p for p in pages if p.site == site), now, config.schedule)
        budgets[site] = asdict(report) | {
            "covered": report.covered,
            "summary": render_budget(site, report),
        }
    return budgets


def database_bytes(db_path: Path) -> int:
    files = (db_path, db_path.with_name(db_path.name + "-wal"))
    return sum(f.stat().st_size for f in files if f.exists())


def count_runs(outcomes: list[tuple[str, str, int | None, int]]) -> dict[str, dict[str, int]]:
    """Runs by trigger and outcome (ok, partial, error, running, interrupted)."""
    counts: dict[str, dict[str, int]] = {}
    for trigger, outcome, pid, n in outcomes:
        outcome = _unfinished(pid) if outcome == "unfinished" else outcome
        by_outcome = counts.setdefault(trigger, {})
        by_outcome[outcome] = by_outcome.get(outcome, 0) + n
    return counts


def last_runs(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last run of each trigger by trigger, an unfinished one told running or not."""
    for run in runs:
        if run["outcome"] == "unfinished":
            run["outcome"] = _unfinished(run.get("pid"))
    return {run["trigger"]: run for run in runs}


def _unfinished(pid: int | None) -> str:
    """A run without an end is running while its process lives, else it was interrupted."""
    return "running" if pid and pid_alive(int(pid)) else "interrupted"


def render_status(status: dict[str, Any]) -> str:
    """The status as lines of text, for people."""
    lines = [
        f"database  {status['database']} ({status['database_bytes'] / 1e6:.1f} MB)",
        f"pages     {status['pages'] - status['never_archived']} (gone {status['gone']}), "
        f"versions {status['versions']}" + _render_never_archived(status["never_archived"]),
    ]
    runs = "; ".join(
        f"{trigger}: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(by.items()))
        for trigger, by in sorted(status["runs"].items())
    )
    lines.append(f"runs      {runs or 'none yet'}")
    lines.extend(_render_run(run) for run in status["last_runs"].values())
    lines.extend(_render_failures(status["last_run_failures"]))
    lines.extend(f"budget    {b['summary']}" for b in status.get("budget", {}).values())
    lines.extend(_render_frontier(status.get("frontier") or {}))
    lines.extend(_render_notifications(status.get("notifications")))
    lines.append(_render_service(status["service"]))
    return "\n".join(lines)


def _render_never_archived(count: int) -> str:
    """Pages known but with no version (a first fetch that failed: 404, an error) are not
    in ``list``; they are counted apart so that the two commands agree."""
    if not count:
        return ""
    return f"; {count} more never archived (their first fetch failed; not in list)"


def _render_frontier(frontier: dict[str, Any]) -> list[str]:
    """The discovery walk's unfinished business, which the next crawl or poll takes up."""
    lines = []
    pages = frontier.get("pages") or {}
    if pages:
        by_site = ", ".join(f"{site} {n}" for site, n in sorted(pages.items()))
        lines.append(
            f"frontier  {sum(pages.values())} pages found, not yet fetched ({by_site}); "
            "the next crawl or poll fetches them"
        )
    for walk in frontier.get("walks") or []:
        end = f" of {walk['end_number']}" if walk["end_number"] else ""
        end += f" back to {walk['since']}" if walk["since"] else ""
        lines.append(
            f"walk      {walk['site']} {walk['kind']} at {walk['source']} page "
            f"{walk['number']}{end} ({walk['reason']}); the next crawl or poll goes on"
        )
    return lines


def _render_run(run: dict[str, Any]) -> str:
    n = {k: run.get(k) or 0 for k in RUN_COUNTS}
    n["unchanged"] += n.pop("not_modified")
    n |= {k.replace("_", " "): run[k] for k in RUN_IMPORT_COUNTS if run.get(k) is not None}
    counts = ", ".join(f"{k} {v}" for k, v in n.items())
    line = f"last {run['trigger']:<8} {run['started_at']} {run['outcome']}: {counts}"
    return line + (f"\n  error: {run['error']}" if run.get("error") else "")


def _render_failures(failures: dict[str, Any] | None) -> list[str]:
    if not failures or not (failures["failed"] or failures["pages"]):
        return []
    head = (
        f"failures of the last run ({failures['trigger']} #{failures['run']}): {failures['failed']}"
    )
    return [head] + [f"  {page['url']}: {page['error']}" for page in failures["pages"]]


def _render_notifications(summary: dict[str, Any] | None) -> list[str]:
    """The service's messages, when it sent any: counts and the newest failure."""
    if not summary or not (summary["sent"] or summary["failed"]):
        return []
    line = f"notify    {summary['sent']} sent, {summary['failed']} failed"
    last = summary["last_failed"]
    if last:
        line += f"; last failed {last['finished_at']} (run {last['run_id']}): {last['error']}"
    return [line]


def _render_service(state: dict[str, Any] | None) -> str:
    if not state["running"]:
        return "service   not running"
    nexts = ", ".join(f"next {job} {at or '-'}" for job, at in state["next_run_at"].items())
    return f"service   running pid={state['pid']} since {state['started_at']}; {nexts}"
