"""The command line: every command documented, errors turned into clear messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakesite import FakeSite
from kremlin_archive.cli import main
from runcli import kremlin

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_has_help_and_a_readme_example(name):
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    assert f"### `kremlin-archive {name}" in README
    assert re.search(rf"^kremlin-archive {name}\b", README, re.M), f"no example of {name}"


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_option_is_in_the_readme(name):
    for param in main.commands[name].params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in README, f"{name} {opt} is not documented in README.md"


def test_readme_test_command_is_what_ci_runs():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(.+?)\n```", README)
    assert commands[1] in ci


def test_unknown_config_key_exits_2_naming_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[fetch]\ndelays = 1\n", encoding="utf-8")
    db = tmp_path / "a.db"
    result = CliRunner().invoke(main, ["crawl", "--config", str(bad), "--db", str(db)])
    assert result.exit_code == 2
    assert "bad.toml: unknown key 'fetch.delays'" in result.output
    assert not db.exists()


def test_config_defaults_round_trip(tmp_path):
    result = CliRunner().invoke(main, ["config", "--defaults"])
    path = tmp_path / "d.toml"
    path.write_text(result.output, encoding="utf-8")
    checked = CliRunner().invoke(main, ["config", "--config", str(path)])
    assert checked.exit_code == 0
    assert '"delay": 5.0' in checked.output


def test_files_the_readme_names_are_in_the_repo():
    """A project file in backticks (``config/kremlin.toml``, a module) must exist: the README
    must not send a reader to a file that only a development machine has."""
    root = Path(__file__).resolve().parents[1]
    named = re.findall(r"`([\w./-]+\.(?:txt|md|py|toml|service))`", README)
    assert named
    for name in named:
        if name.startswith("../") or "/" not in name and not name.endswith(".py"):
            continue
        where = root / name if "/" in name else root / "src" / "kremlin_archive" / name
        assert where.exists(), f"README.md names {name}, which is not in the repo"


# --------------------------------------------------------------------------- where the archive is


@pytest.fixture
def crawled_db(tmp_path: Path) -> Path:
    """An archive of the fake site made in its own folder, named by an absolute path."""
    db = tmp_path / "store" / "k.db"
    with FakeSite(n_pages=3, seed=8, extras=0) as site:
        result = kremlin("crawl", "--db", db, "--base-url", site.url, "--delay", "0")
    assert result.returncode == 0, result.stderr
    return db


def elsewhere(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    return folder


def test_kremlin_archive_db_names_the_archive_from_any_folder(crawled_db, tmp_path):
    result = kremlin("list", cwd=elsewhere(tmp_path), env={"KREMLIN_ARCHIVE_DB": str(crawled_db)})
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert list(elsewhere(tmp_path).iterdir()) == []  # no second archive made here


def test_the_db_flag_comes_before_the_variable(crawled_db, tmp_path):
    env = {"KREMLIN_ARCHIVE_DB": str(tmp_path / "other.db")}
    result = kremlin("list", "--db", crawled_db, cwd=elsewhere(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3


def test_kremlin_archive_config_names_the_config_and_the_db_variable_beats_it(crawled_db, tmp_path):
    config = tmp_path / "my.toml"
    config.write_text(f'[database]\npath = "{crawled_db}"\n', encoding="utf-8")
    env = {"KREMLIN_ARCHIVE_CONFIG": str(config)}
    listed = kremlin("list", cwd=elsewhere(tmp_path), env=env)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 3
    shown = kremlin("config", cwd=elsewhere(tmp_path), env=env)
    assert json.loads(shown.stdout)["database"]["path"] == str(crawled_db)
    missing = tmp_path / "missing.db"
    env["KREMLIN_ARCHIVE_DB"] = str(missing)
    result = kremlin("list", cwd=elsewhere(tmp_path), env=env)
    assert result.returncode == 1
    assert f"no archive at {missing} (given by KREMLIN_ARCHIVE_DB)" in result.stderr


def test_no_archive_says_which_path_was_tried_and_where_it_came_from(tmp_path):
    here = elsewhere(tmp_path)
    result = kremlin("list", cwd=here)
    assert result.returncode == 1
    assert (
        "no archive at archive/kremlin.db (the default database.path, relative to the "
        f"working directory {here}); name the archive with --db PATH or KREMLIN_ARCHIVE_DB=PATH"
    ) in result.stderr
    config = tmp_path / "c.toml"
    config.write_text('[database]\npath = "data/a.db"\n', encoding="utf-8")
    named = kremlin("show", "1", cwd=here, env={"KREMLIN_ARCHIVE_CONFIG": str(config)})
    assert (
        f"no archive at data/a.db (database.path in {config} (named by KREMLIN_ARCHIVE_CONFIG)"
    ) in named.stderr
    assert list(here.iterdir()) == []


def test_a_config_variable_naming_no_file_is_a_configuration_error(tmp_path):
    result = kremlin("status", env={"KREMLIN_ARCHIVE_CONFIG": str(tmp_path / "no.toml")})
    assert result.returncode == 2
    assert f"config file not found: {tmp_path / 'no.toml'} (given by KREMLIN_ARCHIVE_CONFIG)" in (
        result.stderr
    )
