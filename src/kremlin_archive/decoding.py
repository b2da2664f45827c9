"""Pure: a fetched body's text, decoded one way by fetch, discover and normalize alike.

The order is the HTML standard's, short of its statistical sniffing:

1. a byte-order mark (UTF-8, UTF-16 LE or BE) wins, and is dropped;
2. then the charset of the Content-Type header, where there is one (a stored raw page has
   none: it is decoded as a replay would, from its bytes alone);
3. then a ``<meta>`` charset or the XML declaration in the first SNIFF_BYTES bytes;
   a UTF-16 or UTF-32 declared there is a lie (the markup that says so is readable as
   ASCII) and counts as UTF-8;
4. else UTF-8.

A charset Python does not know counts as absent. Undecodable bytes become U+FFFD:
decoding never fails. Imports nothing of the project.
"""

from __future__ import annotations

import codecs
import re

SNIFF_BYTES = 8192
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """The text of ``body`` (see the module docstring for the rules)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    charset = header_charset(content_type) or declared_charset(body[:SNIFF_BYTES]) or "utf-8"
    return body.decode(charset, errors="replace")


def header_charset(content_type: str | None) -> str | None:
    """The known charset a Content-Type header names, or None."""
    match = _HEADER_CHARSET.search(content_type or "")
    return _known(match[1]) if match else None


def declared_charset(head: bytes) -> str | None:
    """The known charset the XML declaration or a ``<meta>`` of ``head`` declares, or
    None; a declared UTF-16 or UTF-32 is UTF-8."""
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    name = _known(match[1].decode("ascii")) if match else None
    if name and name.startswith(("utf-16", "utf-32")):
        return "utf-8"
    return name


def _known(charset: str) -> str | None:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None
