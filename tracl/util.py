"""Small helpers more than one TracLearn module needs."""

import functools
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


def database_outage(error):
    """Whether `error`, or an exception it was raised from, shows that the
    database cannot be reached or cannot serve now (no connection within
    the pool's timeout, a refused, lost or locked connection), as opposed
    to a statement it refuses."""
    outages = _database_outage_errors()
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, outages):
            return True
        error = error.__cause__ or error.__context__
    return False


@functools.lru_cache(maxsize=None)
def _database_outage_errors():
    """The exception classes of an outage, found once (the PostgreSQL
    driver is optional)."""
    import sqlite3
    from trac.db.pool import TimeoutError as PoolTimeout
    errors = [PoolTimeout, sqlite3.OperationalError]
    try:
        import psycopg2
    except ImportError:
        pass
    else:
        errors += [psycopg2.OperationalError, psycopg2.InterfaceError]
    return tuple(errors)
