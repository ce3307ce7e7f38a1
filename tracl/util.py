"""Small helpers more than one TracLearn module needs."""

from urllib.parse import urlsplit, urlunsplit


def without_credentials(url):
    """`url` without user, password or query, safe to show in messages and
    logs."""
    parts = urlsplit(url or '')
    netloc = parts.hostname or ''
    if parts.port:
        netloc += ':%d' % parts.port
    return urlunsplit((parts.scheme, netloc, parts.path, '', ''))


def iso(dt):
    """`dt` (UTC) as the API writes times, `2026-01-31T12:00:00Z`; None
    stays None."""
    return None if dt is None else dt.strftime('%Y-%m-%dT%H:%M:%SZ')
