"""Settings: defaults, files over them, clear errors naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kremlin_archive.config import SETTINGS, load_config, render_defaults, with_base_url
from kremlin_archive.errors import ConfigError
from runcli import kremlin

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "k.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_file_documents_every_default(tmp_path):
    shipped = (REPO / "config" / "kremlin.toml").read_text(encoding="utf-8")
    assert shipped == render_defaults()
    empty = tmp_path / "empty.toml"  # the defaults alone, wherever the tests run from
    empty.write_text("", encoding="utf-8")
    defaults = load_config(empty)
    assert load_config(REPO / "config" / "kremlin.toml") == defaults
    assert defaults.fetch.delay == SETTINGS["fetch"]["delay"].default


def test_every_setting_has_help_text():
    def walk(table):
        for value in table.values():
            yield from walk(value) if isinstance(value, dict) else [value]

    assert all(setting.help for setting in walk(SETTINGS))


def test_file_overrides_only_the_keys_it_sets(tmp_path):
    config = load_config(write(tmp_path, "[fetch]\ndelay = 1\n"))
    assert config.fetch.delay == 1.0
    assert config.fetch.timeout == SETTINGS["fetch"]["timeout"].default
    assert [s.name for s in config.enabled_sites] == ["en"]


def test_unknown_key_names_file_and_key(tmp_path):
    path = write(tmp_path, "[fetch]\ndelays = 1\n")
    with pytest.raises(ConfigError, match=r"k\.toml: unknown key 'fetch\.delays'"):
        load_config(path)


def test_unknown_section_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'fetcher'"):
        load_config(write(tmp_path, "[fetcher]\ndelay = 1\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[fetch]\ndelay = "fast"\n', "'fetch.delay' must be a number, got a string"),
        ("[fetch]\nretries = 2.5\n", "'fetch.retries' must be an integer, got a number"),
        ("[fetch]\nrobots = 1\n", "'fetch.robots' must be a boolean, got an integer"),
        ('[sites.en]\nfeeds = "/feed"\n', "'sites.en.feeds' must be a list of strings"),
        ("[fetch]\ndelay = -1\n", "'fetch.delay' must not be negative"),
        ('[log]\nlevel = "LOUD"\n', "'log.level' must be one of"),
        ("fetch = 3\n", "'fetch' must be a table"),
    ],
    ids=[
        "string-for-number",
        "float-for-int",
        "int-for-bool",
        "string-for-list",
        "negative",
        "bad-level",
        "value-for-table",
    ],
)
def test_wrong_values_are_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config(write(tmp_path, text))


def test_broken_toml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"k\.toml: not valid TOML"):
        load_config(write(tmp_path, "[fetch\n"))


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_command_line_overrides_win(tmp_path):
    config = load_config(write(tmp_path, "[fetch]\ndelay = 9\n"), fetch__delay=0.5)
    assert config.fetch.delay == 0.5


def test_base_url_points_requests_at_a_replica_but_keeps_the_canonical_site():
    config = with_base_url(load_config(path=None), "http://127.0.0.1:8000/")
    (site,) = config.enabled_sites
    assert site.url == "http://en.kremlin.ru"
    assert site.fetch_url == "http://127.0.0.1:8000"


def test_base_url_with_two_sites_needs_a_site_name(tmp_path):
    config = load_config(write(tmp_path, "[sites.ru]\nenabled = true\n"))
    with pytest.raises(ConfigError, match="name it with --site"):
        with_base_url(config, "http://127.0.0.1:8000")
    assert with_base_url(config, "http://127.0.0.1:8000", "ru").sites[1].mirror_url


# --- values that parse but cannot work (issue 19, item 8) --------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fetch]\ndelay = nan\n", "'fetch.delay' must be a finite number"),
        ("[fetch]\ndelay = inf\n", "'fetch.delay' must be a finite number"),
        ("[fetch]\ntimeout = nan\n", "'fetch.timeout' must be a finite number"),
        ("[fetch]\ndeadline = 0\n", "'fetch.deadline' must be positive"),
        ("[database]\nbusy_timeout = inf\n", "'database.busy_timeout' must be a finite"),
        ("[database]\nbusy_timeout = nan\n", "'database.busy_timeout' must be a finite"),
        ('[database]\npath = ""\n', "'database.path' must name a file"),
        ('[fetch]\nuser_agent = "a\\nX-Evil: 1"\n', "'fetch.user_agent' must be one line"),
        ('[sites.en]\nurl = "not a url"\n', "'sites.en.url' must be an absolute URL"),
        ('[sites.en]\nmirror_url = "ftp://x"\n', "'sites.en.mirror_url' must be an absolute"),
        ('[fetch]\nproxy = "proxy:3128"\n', "'fetch.proxy' must be an absolute URL"),
    ],
    ids=[
        "delay-nan",
        "delay-inf",
        "timeout-nan",
        "deadline-zero",
        "busy-inf",
        "busy-nan",
        "empty-db-path",
        "agent-newline",
        "url-not-a-url",
        "mirror-ftp",
        "proxy-no-scheme",
    ],
)
def test_the_command_line_refuses_values_that_cannot_work(tmp_path, text, message):
    """Each one exits 2 with the file and the key named, never with a traceback."""
    result = kremlin("config", "--config", write(tmp_path, text))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "k.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_crawl_with_a_nan_delay_stops_before_any_request(tmp_path, fake_site):
    config = write(tmp_path, "[fetch]\ndelay = nan\n")
    result = kremlin("crawl", "--config", config, "--db", tmp_path / "a.db",
                     "--base-url", fake_site.url)  # fmt: skip
    assert result.returncode == 2
    assert "'fetch.delay' must be a finite number" in result.stderr
    assert fake_site.requests == []


def test_a_utf16_config_file_is_a_clear_error(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text("[fetch]\ndelay = 1\n", encoding="utf-16")
    result = kremlin("config", "--config", path)
    assert result.returncode == 2
    assert "not UTF-8 text" in result.stderr and "UTF-16" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_base_url_that_is_not_a_url_is_refused():
    with pytest.raises(ConfigError, match="--base-url must be an http"):
        with_base_url(load_config(path=None), "http://")
