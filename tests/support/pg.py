"""Creating and dropping the PostgreSQL databases tests run in."""

from urllib.parse import urlsplit, urlunsplit

import psycopg2


def _connect(server_uri):
    parts = urlsplit(server_uri)
    cnx = psycopg2.connect(host=parts.hostname or '127.0.0.1',
                           port=parts.port or 5432,
                           user=parts.username or 'postgres',
                           password=parts.password,
                           dbname=parts.path.lstrip('/') or 'postgres',
                           connect_timeout=5)
    cnx.autocommit = True
    return cnx


def with_database(server_uri, name):
    """`server_uri` pointing at database `name` instead."""
    parts = urlsplit(server_uri)
    return urlunsplit((parts.scheme, parts.netloc, '/' + name, '', ''))


def create_database(server_uri, name):
    cnx = _connect(server_uri)
    try:
        cnx.cursor().execute('CREATE DATABASE "%s" ENCODING \'UTF8\' '
                             'TEMPLATE template0' % name)
    finally:
        cnx.close()
    return with_database(server_uri, name)


def drop_database(server_uri, name):
    cnx = _connect(server_uri)
    try:
        cnx.cursor().execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                             % name)
    finally:
        cnx.close()


def connect(uri):
    """A plain psycopg2 connection to the database of Trac URI `uri`."""
    return _connect(uri.split('?')[0])
