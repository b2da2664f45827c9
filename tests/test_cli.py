"""The command line: every command documented, errors turned into clear messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kremlin_archive.cli import main

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
