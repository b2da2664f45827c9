"""Pure: a URL's host, defined once for the whole project.

    url_host("http://User@EN.Kremlin.ru:80/x")  -> "en.kremlin.ru"   (what fetch keys
                                                   politeness, robots and redirects by)
    site_host("https://www.kremlin.ru/x")       -> "kremlin.ru"      (what tells whether
                                                   two addresses are one site)

Lower case, without user info, without the scheme's default port; ``site_host`` also
drops a leading "www.". Imports nothing of the project.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def url_host(url: str) -> str:
    """The host (with its port, unless it is the scheme's default) ``url`` names."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.lower().rsplit("@", 1)[-1]
    default = DEFAULT_PORTS.get(parts.scheme.lower(), "")
    return netloc.removesuffix(default) if default else netloc


def site_host(url: str) -> str:
    """``url_host`` without a leading "www.": one site under either name."""
    return url_host(url).removeprefix("www.")
