"""Pure: how a raw page is stored, so that a re-capture that differs only in the chrome costs
little, and how it is read back exactly.

Three encodings, named in ``raw_pages.compression``::

    zlib         the body compressed alone (archives before this module; still read)
    zstd         the body compressed alone with zstd, with the archive's trained dictionary
                 when it has one (``dict_id``): the site's chrome (head, menus, sidebar,
                 footer) is in the dictionary, so each page costs about its own article
    zstd-delta   the body compressed with zstd against another raw page (``base_sha256``,
                 usually the page's previous capture) used as a raw-content dictionary:
                 a re-capture that differs in asset hashes, menus or counters costs bytes

A delta's base may itself be a delta; ``depth`` counts the chain, kept short
(``MAX_DELTA_DEPTH``) so that reading a page back decompresses a few frames at most.
Whatever the encoding, reading back gives the very bytes received: the archive checks
them against their SHA-256 (``kremlin-archive verify``).
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import zstandard

ZSTD_LEVEL = 9  # level 19 saves 3 % more for 35 times the time on a 43 kB page
MAX_DELTA_DEPTH = 8
DICT_SIZE = 112_640  # zstd's default dictionary size
DICT_SAMPLES = 256  # raw pages a dictionary is trained from
#: a delta is kept only when it is smaller than this share of the page compressed alone
DELTA_WORTH = 0.8


class CodecError(ValueError):
    """A stored raw page cannot be decoded (unknown encoding, missing base, bad frame)."""


@dataclass(frozen=True)
class Encoded:
    compression: str  # "zstd" or "zstd-delta"
    body: bytes
    base_sha256: str | None = None  # zstd-delta: the raw page it is a delta against
    dict_id: int | None = None  # zstd: the trained dictionary it was compressed with
    depth: int = 0  # zstd-delta: how many deltas deep (a full page is 0)


@dataclass(frozen=True)
class Base:
    """A raw page a new one may be stored as a delta against."""

    sha256: str
    body: bytes
    depth: int


def encode(
    body: bytes,
    base: Base | None,
    dictionary: tuple[int, bytes] | None,
    full: Encoded | None = None,
) -> Encoded:
    """The smaller of the page alone (with the dictionary) and a delta against ``base``
    (when its chain is short enough and the delta is worth it). ``full`` is the page
    already compressed alone (by ``encode_full``), used when it was compressed with this
    very dictionary."""
    if full is None or full.dict_id != (dictionary[0] if dictionary else None):
        full = encode_full(body, dictionary)
    if base is None or base.depth >= MAX_DELTA_DEPTH:
        return full
    delta = encode_delta(body, base)
    return delta if len(delta.body) < DELTA_WORTH * len(full.body) else full


def encode_full(body: bytes, dictionary: tuple[int, bytes] | None) -> Encoded:
    if dictionary is None:
        return Encoded("zstd", zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(body))
    dict_id, data = dictionary
    return Encoded("zstd", _trained_compressor(data).compress(body), dict_id=dict_id)


def encode_delta(body: bytes, base: Base) -> Encoded:
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=_raw_content(base.body))
    frame = compressor.compress(body)
    return Encoded("zstd-delta", frame, base_sha256=base.sha256, depth=base.depth + 1)


def decode(
    compression: str,
    body: bytes,
    base_body: bytes | None = None,
    dictionary: bytes | None = None,
) -> bytes:
    """The stored bytes back: ``base_body`` is the decoded base of a delta, ``dictionary``
    the trained dictionary of a zstd page that names one."""
    try:
        if compression == "zlib":
            return zlib.decompress(body)
        if compression == "zstd":
            if dictionary is None:
                return zstandard.ZstdDecompressor().decompress(body)
            return _trained_decompressor(dictionary).decompress(body)
        if compression == "zstd-delta":
            if base_body is None:
                raise CodecError("a delta needs its base page")
            return _decompressor(_raw_content(base_body)).decompress(body)
    except (zlib.error, zstandard.ZstdError) as exc:
        raise CodecError(f"{compression} data does not decompress: {exc}") from None
    raise CodecError(f"unknown compression {compression!r}")


def train_dictionary(samples: list[bytes]) -> bytes:
    """A zstd dictionary trained from raw pages (their common chrome); CodecError when the
    samples are too few or too alike to train one."""
    size = min(DICT_SIZE, max(1024, sum(map(len, samples)) // 10))
    try:
        return zstandard.train_dictionary(size, samples, level=ZSTD_LEVEL).as_bytes()
    except zstandard.ZstdError as exc:
        raise CodecError(f"cannot train a dictionary from {len(samples)} pages: {exc}") from None


def _decompressor(dictionary: zstandard.ZstdCompressionDict | None):
    if dictionary is None:
        return zstandard.ZstdDecompressor()
    return zstandard.ZstdDecompressor(dict_data=dictionary)


def _raw_content(data: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _trained(data: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)


@functools.lru_cache(maxsize=4)
def _trained_compressor(data: bytes) -> zstandard.ZstdCompressor:
    """One compressor per dictionary: digesting a dictionary costs more than a page."""
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=_trained(data))


@functools.lru_cache(maxsize=4)
def _trained_decompressor(data: bytes) -> zstandard.ZstdDecompressor:
    return zstandard.ZstdDecompressor(dict_data=_trained(data))
