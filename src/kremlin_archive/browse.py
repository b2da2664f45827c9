"""``kremlin-archive browse``: Datasette on 127.0.0.1 over the archive, with the project's
plugin (``web``) and metadata.

The archive is checked first like every reader checks it (an archive, of this version's
schema); Datasette then reads it through read-only connections, so a crawl or the
service may go on writing while it is browsed. Long texts
are cut in listings (``truncate_cells_html``); a row's own page shows them whole.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .lookup import open_archive

HOST = "127.0.0.1"
SETTINGS = {"truncate_cells_html": 160, "default_page_size": 50, "suggest_facets": False}
METADATA_DATABASE = "kremlin"  # the key of the database in metadata.json


def load_metadata(database: str) -> dict[str, Any]:
    """The shipped metadata, its database section filed under ``database``."""
    text = resources.files("kremlin_archive.web").joinpath("metadata.json").read_text("utf-8")
    metadata = json.loads(text)
    databases = metadata.get("databases", {})
    if METADATA_DATABASE in databases:
        databases[database] = databases.pop(METADATA_DATABASE)
    return metadata


def prepare_browse(db_path: Path, busy_timeout: float = 30.0) -> Any:
    """A started Datasette application over the archive at ``db_path``."""
    try:
        from datasette.app import Datasette
        from datasette.plugins import pm
    except ImportError:
        raise ConfigError("browse needs Datasette: pip install 'kremlin-archive[web]'") from None
    with open_archive(db_path, busy_timeout):
        pass  # an archive of this schema: the views are there
    from . import web

    if not pm.is_registered(web):
        pm.register(web, name="kremlin_archive")  # not installed as a distribution
    datasette = Datasette([str(db_path)], metadata=load_metadata(db_path.stem), settings=SETTINGS)
    _run_sync(datasette.invoke_startup)
    return datasette.app()


def run_browse(app: Any, port: int) -> None:
    """Serve on 127.0.0.1:``port`` until Ctrl-C or SIGTERM."""
    import uvicorn

    uvicorn.run(app, host=HOST, port=port, log_level="warning", lifespan="on", workers=1)


def _run_sync(make: Any) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(make())
    finally:
        loop.close()
