"""Decide a feed's character encoding before feedparser sees it: the one entry point is `to_utf8`.

Feeds lie about their encoding. An Arabic site serves windows-1256 bytes under an XML declaration
that says UTF-8, or its web server adds `charset=iso-8859-1` to every response; feedparser then
either falls back to windows-1252 or trusts the header, and the detector gets mojibake it can never
match. So ingest settles the encoding here, from the bytes, and hands feedparser UTF-8 with a
declaration that says so:

1. a byte-order mark, or a declared UTF-16/32, is left to feedparser (it handles those well);
2. bytes that are valid UTF-8 are UTF-8, whatever was declared (a legacy encoding almost never
   produces valid multi-byte UTF-8 by chance);
3. otherwise the declared encodings (HTTP charset first, then the XML declaration) are tried, and
   a declared Western single-byte encoding (which decodes any byte string) is overruled when
   `charset_normalizer` is confident the text is in a non-Latin script's legacy code page;
4. with nothing usable declared, `charset_normalizer`'s best guess, else windows-1252.
"""

import codecs
import re

from charset_normalizer import from_bytes

_BOMS = (
    codecs.BOM_UTF8,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)
_XML_DECL_RE = re.compile(
    rb"^\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']"
)
_XML_DECL_ENCODING_RE = re.compile(
    rb"^(\s*<\?xml[^>]{0,200}?encoding\s*=\s*)([\"'])[A-Za-z0-9._:-]{1,40}\2"
)
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]{1,40})", re.IGNORECASE)

#: Code pages that decode every byte string, so "it decoded" proves nothing about them.
_PERMISSIVE = frozenset({"iso8859_1", "cp1252", "iso8859_15", "ascii"})
#: Legacy code pages of non-Latin scripts that may overrule a declared permissive one.
_NON_LATIN = frozenset(
    {"cp1256", "iso8859_6", "cp720", "cp864", "cp1251", "koi8_r", "koi8_u", "iso8859_5",
     "cp1253", "iso8859_7", "cp1255", "iso8859_8", "cp1254", "iso8859_9", "mac_cyrillic"}
)  # fmt: skip


def _codec(name: str | bytes | None) -> str | None:
    """Python's canonical codec name for a declared encoding, or None when unknown."""
    if not name:
        return None
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    try:
        return codecs.lookup(name.strip()).name.replace("-", "_")
    except LookupError:
        return None


def declared_encodings(body: bytes, content_type: str | None) -> list[str]:
    """Encodings the response claims, most authoritative first: HTTP charset, XML declaration."""
    found: list[str] = []
    if content_type:
        m = _CHARSET_RE.search(content_type)
        codec = _codec(m.group(1)) if m else None
        if codec:
            found.append(codec)
    m2 = _XML_DECL_RE.match(body[:300])
    codec = _codec(m2.group(1)) if m2 else None
    if codec and codec not in found:
        found.append(codec)
    return found


def _guess(body: bytes) -> str | None:
    best = from_bytes(body[:200_000]).best()
    return _codec(best.encoding) if best is not None else None


def _decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def detect_encoding(body: bytes, content_type: str | None = None) -> str | None:
    """The encoding to read `body` with, or None to leave the decision to feedparser."""
    declared = declared_encodings(body, content_type)
    if body.startswith(_BOMS) or any(c.startswith(("utf_16", "utf_32")) for c in declared):
        return None
    if body.isascii():
        return "utf_8"
    if _decodes(body, "utf_8"):
        return "utf_8"
    for codec in declared:
        if codec == "utf_8" or not _decodes(body, codec):
            continue
        if codec in _PERMISSIVE:
            guess = _guess(body)
            return guess if guess in _NON_LATIN else codec
        return codec
    return _guess(body) or "cp1252"


def to_utf8(body: bytes, content_type: str | None = None) -> bytes:
    """`body` re-encoded as UTF-8 with its XML declaration saying so (unchanged when undecidable).

    Never raises: undecodable bytes become U+FFFD rather than losing the feed.
    """
    codec = detect_encoding(body, content_type)
    if codec is None:
        return body
    if codec == "utf_8":
        text_bytes = body
    else:
        text_bytes = body.decode(codec, errors="replace").encode("utf-8")
    return _XML_DECL_ENCODING_RE.sub(rb"\1\2utf-8\2", text_bytes, count=1)
