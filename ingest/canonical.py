"""Canonical URLs and the article ids derived from them.

Two fetches of the same story must produce the same id even when a feed adds tracking
parameters, changes the host's case or drops a fragment, so ids hash the canonical form.
"""

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that only track the reader and never change the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ocid",
        "cmpid",
        "at_medium",
        "at_campaign",
        "ref",
        "ref_src",
        "_ga",
    }
)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports, fragments and tracking parameters.

    A URL too broken to take apart (a port out of range, an unclosed IPv6 bracket: urllib
    raises ValueError) is kept as written: one such link in a feed must not sink the others.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def stable_id(*parts: str) -> str:
    """A short, stable hex id for the given parts (20 hex chars of SHA-256: 80 bits)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:20]


def article_id(link: str | None, guid: str | None, fallback: str) -> str:
    """Id from the canonical link, else the GUID, else `fallback` (e.g. feed + title)."""
    if link:
        return stable_id("url", canonical_url(link))
    if guid:
        return stable_id("guid", guid.strip())
    return stable_id("fallback", fallback)
