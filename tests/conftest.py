"""Shared fixtures: the fake en.kremlin.ru and the replica of the saved real pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawled import Crawled, build_crawled_archive
from fakesite import SHARED_HTML, FakeSite, ReplicaSite


@pytest.fixture
def fake_site() -> Iterator[FakeSite]:
    """A fresh generated site of 30 news pages (plus 4 acts/misc items) on 127.0.0.1."""
    with FakeSite(n_pages=30, seed=0) as site:
        yield site


@pytest.fixture
def replica_site() -> Iterator[ReplicaSite]:
    """The real pages of ../shared/kremlin-html served under their real paths."""
    if not SHARED_HTML.is_dir():
        pytest.skip(f"real pages not found at {SHARED_HTML}")
    with ReplicaSite(SHARED_HTML) as site:
        yield site


@pytest.fixture(scope="session")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """One crawled archive for every test that only reads it (see tests/crawled.py)."""
    archive = build_crawled_archive(tmp_path_factory.mktemp("crawled"))
    yield archive
    archive.site.stop()
