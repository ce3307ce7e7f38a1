"""SQLite connections with foreign keys enforced.

SQLite ignores `REFERENCES` clauses unless `PRAGMA foreign_keys` is on, and the
pragma is per connection. The learning tables rely on their foreign keys (a
deleted ticket takes its learning rows with it, even when Trac core deletes
it), so every connection Trac opens must have it on. Trac picks the connector
with the highest priority for a scheme: this one outranks Trac's own and only
adds the pragma. Trac's tables have no foreign keys, so Trac is unaffected.
"""

from trac.db.sqlite_backend import SQLiteConnector


class ForeignKeySQLiteConnector(SQLiteConnector):
    """Trac's SQLite connector, with `PRAGMA foreign_keys = ON` on every
    connection it opens."""

    def get_supported_schemes(self):
        for scheme, priority in super().get_supported_schemes():
            yield scheme, priority + 1 if priority >= 0 else priority

    def get_connection(self, path, log=None, params={}):
        cnx = super().get_connection(path, log, params)
        # The pragma is a no-op inside a transaction; a new connection has
        # none open (Trac's connections run in autocommit until a write).
        cnx.execute('PRAGMA foreign_keys = ON')
        return cnx
