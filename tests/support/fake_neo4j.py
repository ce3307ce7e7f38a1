"""The driver side of a stand-in Neo4j, for tests of the Neo4j chunk store
and loader without a server.

A test's stand-in server has `session(database=None,
default_access_mode=None)` returning `Session(self)`, `close()`, and
`answer(text, params)` returning a `Result` of the records the store's
Cypher asks for; `serve` makes the store and the loader connect to it.
"""

from tracl.search import neo4j_store


class Result(list):
    """The records of one statement, as the driver's result gives them."""

    def single(self):
        return self[0] if self else None

    def consume(self):
        return None


class Session(object):
    """A driver session passing every statement, as text, and its
    parameters to the stand-in server's `answer`."""

    def __init__(self, server):
        self.fake = server

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def run(self, query, parameters=None, **params):
        return self.fake.answer(getattr(query, 'text', query),
                                dict(parameters or {}, **params))

    def execute_read(self, work, *args, **kwargs):
        return work(self, *args, **kwargs)

    execute_write = execute_read


def serve(monkeypatch, server):
    """Makes `neo4j.GraphDatabase.driver(...)` return `server`, and records
    the `(uri, auth, config)` of every driver made in `server.created`.
    The caller closes the store's drivers afterwards
    (`neo4j_store.close_drivers()`)."""
    server.created = []

    def driver(uri, auth=None, **config):
        server.created.append((uri, auth, config))
        return server
    monkeypatch.setattr(neo4j_store.neo4j.GraphDatabase, 'driver', driver)
    return server
