"""URLs that may carry credentials: what of them may be shown, and which parts are secrets.

A server URL is given by people as they copy it: `http://alice:PASSWORD@host/v1?api_key=...`. Whatever records
or prints it (a log line, the signed and append-only audit log, an error message) uses `redact_url`; whatever
guards output (the log redactor, the audit log's secret guard) registers `url_secrets`. One rule for every URL
the library handles (model servers, database URLs).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

MASK = "***"

# a query parameter whose name looks like a credential: api_key, key, token, access_token, secret, password, sig,
# X-Amz-Signature, X-Amz-Credential, client_secret, subscription-key, auth, session... (case-insensitive)
_SECRET_PARAM = re.compile(
    r"(?i)(^|[-_.])(api[-_]?key|key|token|secret|password|passwd|pwd|pass|sig|signature|credentials?|auth|"
    r"authorization|session(id)?|code|jwt|bearer)$|(key|token|secret|password|signature)$")


def is_secret_param(name: str) -> bool:
    """True for a query parameter whose value must never be shown (see `_SECRET_PARAM`)."""
    return bool(_SECRET_PARAM.search(name.strip()))


def _split(url: str):
    try:
        return urlsplit(url.strip())
    except ValueError:  # e.g. an unbalanced IPv6 bracket: nothing can be said about its parts
        return None


def url_secrets(url: str) -> list[str]:
    """The credentials inside `url`: the password (or a lone user name, the `TOKEN@host` form) and the values of
    secret-looking query parameters; both as written and percent-decoded, longest first."""
    parts = _split(url)
    if parts is None:
        return []
    found: set[str] = set()
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        found.update([password] if colon else [user])
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_secret_param(name):
            found.add(value)
            found.add(quote(value, safe=""))
    raw = {part for part in found if part}
    return sorted(raw | {unquote(part) for part in raw if unquote(part)}, key=len, reverse=True)


def redact_url(url: str) -> str:
    """`url` safe to log, print and record: the password (or a lone user name) and the values of secret-looking
    query parameters replaced by ***; scheme, host, port, path, other parameters and the fragment kept.
    Something that does not parse as a URL is not shown at all."""
    parts = _split(url)
    if parts is None:
        return f"<unparsable URL ({len(url)} characters)>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    query = parts.query
    if query:
        query = "&".join(_redact_pair(pair) for pair in query.split("&"))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_pair(pair: str) -> str:
    name, eq, _ = pair.partition("=")
    return f"{name}={MASK}" if eq and is_secret_param(unquote(name.replace("+", " "))) else pair


def redact_text(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """`text` with every one of `secrets` replaced by *** (longest first): for messages that quote what a server or
    library said about a URL (an httpx error may repeat it)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


__all__ = ["MASK", "is_secret_param", "redact_text", "redact_url", "url_secrets"]
