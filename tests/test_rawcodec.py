"""How raw pages are stored: every encoding reads back the very bytes, deltas of a
re-capture with changed chrome are small, and bad data is a clear error."""

from __future__ import annotations

import random
import zlib
from datetime import datetime, timedelta

import pytest

from fakesite import generate_page, render_event_page
from kremlin_archive import rawcodec
from kremlin_archive.rawcodec import Base, CodecError, decode, encode, train_dictionary


def pages(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, 9)
    return [
        render_event_page(generate_page(rng, 60000 + i, start + timedelta(hours=i)), True).encode()
        for i in range(n)
    ]


def with_new_chrome(body: bytes) -> bytes:
    """The same article after a deploy: other asset hashes, a menu item, a counter."""
    return (
        body.replace(b"</nav>", b"<a href='/new'>New section</a></nav>", 1)
        .replace(b".css", b".css?v=8f14e45fce", 1)
        .replace(b".js", b".js?v=c9f0f895fb", 1)
        + b"<!-- served 2026-12-01 12:00:01, views 18231 -->"
    )


def test_a_page_alone_reads_back_exactly_and_beats_zlib():
    body = pages(1)[0]
    encoded = encode(body, None, None)
    assert encoded.compression == "zstd" and encoded.depth == 0
    assert decode(encoded.compression, encoded.body) == body
    assert len(encoded.body) < len(zlib.compress(body, 6))


def test_a_recapture_with_changed_chrome_is_a_small_delta():
    old = pages(1)[0]
    new = with_new_chrome(old)
    encoded = encode(new, Base("a" * 64, old, 0), None)
    assert encoded.compression == "zstd-delta" and encoded.base_sha256 == "a" * 64
    assert encoded.depth == 1
    assert len(encoded.body) < 300  # the whole page alone is several kB
    assert decode(encoded.compression, encoded.body, base_body=old) == new


def test_a_delta_is_not_kept_when_the_page_alone_is_as_small():
    one, other = pages(2)
    encoded = encode(other, Base("b" * 64, b"unrelated bytes " * 10, 0), None)
    assert encoded.compression == "zstd"


def test_chains_stay_short():
    old = pages(1)[0]
    deep = Base("c" * 64, old, rawcodec.MAX_DELTA_DEPTH)
    assert encode(with_new_chrome(old), deep, None).compression == "zstd"


def test_a_trained_dictionary_shrinks_a_new_page_and_is_needed_to_read_it():
    corpus = pages(80)
    dictionary = train_dictionary(corpus[:70])
    alone = encode(corpus[75], None, None)
    trained = encode(corpus[75], None, (7, dictionary))
    assert trained.dict_id == 7
    assert len(trained.body) < 0.6 * len(alone.body)  # the chrome is in the dictionary
    assert decode("zstd", trained.body, dictionary=dictionary) == corpus[75]
    with pytest.raises(CodecError):
        decode("zstd", trained.body)  # without its dictionary


def test_bad_data_is_a_codec_error_naming_the_encoding():
    with pytest.raises(CodecError, match="zstd data does not decompress"):
        decode("zstd", b"not a frame")
    with pytest.raises(CodecError, match="zlib data does not decompress"):
        decode("zlib", b"not zlib")
    with pytest.raises(CodecError, match="unknown compression 'lz4'"):
        decode("lz4", b"")
    with pytest.raises(CodecError, match="needs its base"):
        decode("zstd-delta", encode(b"x" * 100, None, None).body)


def test_too_few_pages_train_no_dictionary():
    with pytest.raises(CodecError, match="cannot train a dictionary from 2 pages"):
        train_dictionary([b"one", b"two"])


def test_a_page_compressed_ahead_is_kept_only_with_the_dictionary_it_was_made_with():
    corpus = pages(80)
    dictionary = (7, train_dictionary(corpus[:70]))
    ahead = rawcodec.encode_full(corpus[75], dictionary)
    assert encode(corpus[75], None, dictionary, full=ahead) is ahead
    stale = rawcodec.encode_full(corpus[75], None)  # made before the dictionary was trained
    again = encode(corpus[75], None, dictionary, full=stale)
    assert again == rawcodec.encode_full(corpus[75], dictionary) and again.dict_id == 7
