"""`trac-admin ENV learning doctor` and `learning grants`, and the backup
and restore recipes of docs/operations.md, on SQLite and PostgreSQL."""

import gzip
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg2
import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager
from trac.cache import CacheManager
from trac.config import Configuration
from trac.core import Component, implements
from trac.env import Environment

from support import pg
from support.cognito import cognito  # noqa: F401  (fixture)
from support.corpus import fill_store
from support.study import make_path
from support.web import call
from tracl.admin.doctor import DoctorAdminCommands
from tracl.admin.grants import quote_identifier
from tracl.api import IHealthContributor
from tracl.llm.anthropic_provider import (API_KEY_VARIABLE,
                                          AnthropicLLMProvider)
from tracl.schema import (SCHEMA_VERSION, TABLES, VIEWS, dialect, sql,
                          table_name)

#: The checks `doctor` always makes, in its order.
OWN_CHECKS = ['database', 'learning_schema', 'cache', 'embedder',
              'chunk_store', 'llm', 'cognito', 'graphviz',
              'permission_policies', 'stats_provider']

#: PostgreSQL's client programs, of the server's major version.
PG_BIN = os.environ.get('TRACL_PG_BIN', '/usr/lib/postgresql/15/bin')

postgres_only = pytest.mark.parametrize('db_uri', [pytest.param(
    'postgres', marks=pytest.mark.postgres)], indirect=True)

sqlite_only = pytest.mark.parametrize('db_uri', ['sqlite'], indirect=True)


# Helpers ------------------------------------------------------------------

def learning(env, *args):
    return AdminCommandManager(env).execute_command('learning', *args)


def parse_table(out):
    """`{check: (state, detail)}` of the table `doctor` printed, in order,
    with wrapped details joined again."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines)
                  if line.startswith('Check') and 'State' in line)
    state_at = lines[header].index('State')
    detail_at = lines[header].index('Detail')
    rows = {}
    name = None
    for line in lines[header + 2:]:
        if not line.strip():
            break
        if line[:state_at].strip():
            name = line[:state_at].strip()
            rows[name] = [line[state_at:detail_at].strip(),
                          line[detail_at:].strip()]
        else:
            rows[name][1] += ' ' + line.strip()
    return {name: tuple(row) for name, row in rows.items()}


def doctor(env, capsys):
    """Run `doctor`: `(rows, error)`, `error` the `AdminCommandError`
    message when it failed, else None."""
    error = None
    try:
        learning(env, 'doctor')
    except AdminCommandError as e:
        error = str(e)
    return parse_table(capsys.readouterr().out), error


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def study(env, sub):
    """`sub`'s learning path, with one graded answer: rows in every table
    a learner writes to."""
    path = make_path(env, sub)
    from support.study import learner_headers
    cookies, headers = learner_headers(env, sub)
    concept = next(t['ticket_id'] for t in path['tickets']
                   if not t['prerequisites'])
    CacheManager(env).reset_metadata()
    response = call(env, 'PUT', '/api/v1/progress/%d/submit-answer' % concept,
                    body={'answer': 'A first, partial answer about hashes.',
                          'time_spent_seconds': 30},
                    cookies=cookies, headers=headers)
    assert response.status == 200, response
    return path


def row_counts(cnx, schemas):
    """`{schema.table: rows}` of every table of `schemas`."""
    cur = cnx.cursor()
    cur.execute("SELECT schemaname, tablename FROM pg_tables "
                "WHERE schemaname = ANY(%s)", (list(schemas),))
    counts = {}
    for schema, table in cur.fetchall():
        cur.execute('SELECT count(*) FROM %s.%s' % (
            quote_identifier(schema), quote_identifier(table)))
        counts['%s.%s' % (schema, table)] = cur.fetchone()[0]
    return counts


def libpq_uri(uri, user=None, password=None):
    """Trac's PostgreSQL URI `uri` as libpq takes it (no `?schema=`),
    with another `user` when given."""
    parts = urlsplit(uri)
    netloc = '%s@%s:%d' % (
        user if password is None else '%s:%s' % (user, password),
        parts.hostname, parts.port or 5432) if user else parts.netloc
    return urlunsplit(('postgres', netloc, parts.path, '', ''))


def pg_tool(name, *args, check=True, input=None):
    tool = os.path.join(PG_BIN, name)
    if not os.path.exists(tool):
        tool = shutil.which(name)
    assert tool, 'PostgreSQL client %s not found (TRACL_PG_BIN)' % name
    result = subprocess.run([tool] + list(args), capture_output=True,
                            text=True, timeout=120, input=input)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def drop_roles(uri, *roles):
    """Drop `roles` and what they were granted in the database of
    `uri` (roles belong to the whole server)."""
    cnx = pg.connect(uri)
    try:
        cur = cnx.cursor()
        for role in roles:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone():
                cur.execute('DROP OWNED BY %s' % quote_identifier(role))
                cur.execute('DROP ROLE %s' % quote_identifier(role))
    finally:
        cnx.close()


@pytest.fixture
def fresh_database(pg_database):
    """Make empty databases on the test server; dropped afterwards."""
    made = []

    def make():
        name = 'tracl_test_ops_%s' % uuid.uuid4().hex[:10]
        made.append(name)
        return pg.create_database(pg_database, name)
    yield make
    for name in made:
        pg.drop_database(pg_database, name)


def real_env(path, uri):
    """A Trac environment on disk with TracLearn, as `initenv` makes it."""
    return Environment(str(path), create=True, options=[
        ('trac', 'database', uri), ('components', 'tracl.*', 'enabled'),
        ('learning', 'api_rate_limit', '0')])


# A health contributor of another part of the system ----------------------

class QueueHealth(Component):
    """Reports the state of services `doctor` knows nothing about, and one
    that `doctor` checks itself (the cache)."""

    implements(IHealthContributor)

    def get_health_checks(self):
        yield 'mail_queue', lambda: 'the mail queue holds 900 messages'
        yield 'search_index', lambda: None
        yield 'cache', lambda: 'the cache evicts entries within a second'
        yield 'exploding', self._explode

    def _explode(self):
        raise RuntimeError('the probe itself broke')


# doctor -------------------------------------------------------------------

def test_doctor_passes_on_a_healthy_environment(env, capsys):
    rows, error = doctor(env, capsys)
    assert error is None
    assert list(rows) == OWN_CHECKS
    assert {name for name, (state, _) in rows.items()
            if state == 'ok'} == set(OWN_CHECKS) - {'chunk_store', 'cognito'}
    # Not broken, only not set up yet: warnings.
    assert rows['chunk_store'][0] == 'warning'
    assert 'no chunks' in rows['chunk_store'][1]
    assert rows['cognito'][0] == 'warning'
    assert 'user_pool_id' in rows['cognito'][1]
    assert 'learning schema version %d' % SCHEMA_VERSION in rows['database'][1]
    assert '7 foreign keys' in rows['learning_schema'][1]
    assert 'all-MiniLM-L6-v2 (384 dimensions)' in rows['embedder'][1]
    assert rows['permission_policies'][1].startswith('ConceptOwnerPolicy')


def test_doctor_counts_the_chunks_and_names_their_model(env, capsys):
    chunks = fill_store(env)
    rows, error = doctor(env, capsys)
    assert error is None
    state, detail = rows['chunk_store']
    assert state == 'ok'
    subjects = {c['subject'] for c in chunks}
    assert '%d chunks in %d subjects' % (len(chunks), len(subjects)) in \
        detail
    assert 'all-MiniLM-L6-v2 (384 dimensions)' in detail


def test_chunks_of_another_model_fail_the_doctor(env, capsys):
    fill_store(env)
    with env.db_transaction as db:
        db(sql(env, "UPDATE {chunks} SET embedding_model='other-model'"))
    rows, error = doctor(env, capsys)
    assert rows['chunk_store'][0] == 'FAILED'
    assert 'other-model' in rows['chunk_store'][1]
    assert 'reindex' in rows['chunk_store'][1]
    assert error and 'chunk_store' in error
    assert rows['embedder'][0] == 'ok'


def test_redis_at_a_closed_port_fails_the_doctor(make_env, capsys):
    url = 'redis://127.0.0.1:%d/0' % closed_port()
    env = make_env(config=[('learning', 'cache', 'RedisCache'),
                           ('redis', 'url', url)])
    rows, error = doctor(env, capsys)
    assert rows['cache'][0] == 'FAILED'
    assert 'does not answer' in rows['cache'][1]
    assert error and 'cache' in error
    # One broken backend does not hide the others: every check ran.
    assert list(rows) == OWN_CHECKS
    assert rows['database'][0] == 'ok' and rows['graphviz'][0] == 'ok'


def test_redis_that_answers_passes(make_env, redis_url, capsys):
    env = make_env(config=[('learning', 'cache', 'RedisCache'),
                           ('redis', 'url', redis_url)])
    rows, error = doctor(env, capsys)
    assert rows['cache'] == ('ok', 'Redis at %s answers' % redis_url)
    assert error is None


def test_missing_graphviz_fails_the_doctor(make_env, capsys):
    env = make_env(config=[('learning', 'graph_dot_path',
                            '/nonexistent/dot')])
    rows, error = doctor(env, capsys)
    assert rows['graphviz'][0] == 'FAILED'
    assert '/nonexistent/dot' in rows['graphviz'][1]
    assert 'graph_dot_path' in rows['graphviz'][1]
    assert error and 'graphviz' in error


def test_a_dropped_view_and_trigger_fail_the_doctor(env, capsys):
    is_postgres = dialect(env) == 'postgres'
    with env.db_transaction as db:
        db('DROP VIEW %s' % table_name(dialect(env), 'path_summary_view'))
        db('DROP TRIGGER progress_audit_trigger ON learning.progress'
           if is_postgres else 'DROP TRIGGER learning_progress_audit_trigger')
    rows, error = doctor(env, capsys)
    state, detail = rows['learning_schema']
    assert state == 'FAILED'
    assert 'path_summary_view' in detail and 'upgrade' in detail
    assert 'audit trigger' in detail and 'missing' in detail
    assert error and 'learning_schema' in error


@postgres_only
def test_a_foreign_key_without_cascade_fails_the_doctor(env, capsys):
    with env.db_transaction as db:
        db("ALTER TABLE learning.progress "
           "DROP CONSTRAINT progress_ticket_id_fkey")
        db("ALTER TABLE learning.progress ADD FOREIGN KEY (ticket_id) "
           "REFERENCES ticket (id)")
    rows, error = doctor(env, capsys)
    assert rows['learning_schema'][0] == 'FAILED'
    assert 'progress(ticket_id) -> ticket' in rows['learning_schema'][1]


@sqlite_only
def test_sqlite_without_enforced_foreign_keys_fails(env, capsys):
    # The in-memory database of the tests is one connection: turned off
    # here, the pragma is turned on again for the tests that follow.
    with env.db_query as db:
        db.cursor().execute('PRAGMA foreign_keys = OFF')
    try:
        rows, error = doctor(env, capsys)
    finally:
        with env.db_query as db:
            db.cursor().execute('PRAGMA foreign_keys = ON')
            assert db("SELECT foreign_keys FROM pragma_foreign_keys") == \
                [(1,)]
    assert rows['learning_schema'][0] == 'FAILED'
    assert 'ForeignKeySQLiteConnector' in rows['learning_schema'][1]


def test_an_older_learning_schema_fails_the_doctor(env, capsys):
    with env.db_transaction as db:
        db("UPDATE system SET value='1' "
           "WHERE name='learning_database_version'")
    rows, error = doctor(env, capsys)
    assert rows['database'][0] == 'FAILED'
    assert 'version 1' in rows['database'][1]
    assert 'trac-admin ENV upgrade' in rows['database'][1]


def test_a_misnamed_backend_fails_its_check_only(make_env, capsys):
    env = make_env(config=[('learning', 'chunk_store', 'NoSuchStore')])
    rows, error = doctor(env, capsys)
    assert rows['chunk_store'][0] == 'FAILED'
    assert 'NoSuchStore' in rows['chunk_store'][1]
    assert [name for name, (state, _) in rows.items()
            if state == 'FAILED'] == ['chunk_store']


def test_concept_policy_not_first_fails_the_doctor(make_env, capsys):
    env = make_env(config=[(
        'trac', 'permission_policies',
        'DefaultPermissionPolicy, ConceptOwnerPolicy, '
        'LegacyAttachmentPolicy')])
    rows, error = doctor(env, capsys)
    assert rows['permission_policies'][0] == 'FAILED'
    assert 'not first' in rows['permission_policies'][1]
    assert error and 'permission_policies' in error


def test_trac_stats_provider_chosen_by_an_admin_is_a_warning(env, capsys):
    env.config.set('roadmap', 'stats_provider',
                   'DefaultTicketGroupStatsProvider')
    rows, error = doctor(env, capsys)
    assert error is None
    assert rows['stats_provider'][0] == 'warning'
    assert 'roadmap' in rows['stats_provider'][1]


def test_anthropic_without_a_key_fails(make_env, monkeypatch, capsys):
    monkeypatch.delenv(API_KEY_VARIABLE, raising=False)
    env = make_env(config=[('learning', 'llm_provider',
                            'AnthropicLLMProvider')])
    rows, error = doctor(env, capsys)
    assert rows['llm'][0] == 'FAILED'
    assert API_KEY_VARIABLE in rows['llm'][1]
    assert error and 'llm' in error


def test_anthropic_with_a_key_passes_without_calling_the_api(
        make_env, monkeypatch, capsys):
    monkeypatch.setenv(API_KEY_VARIABLE, 'sk-ant-test-not-a-key')
    env = make_env(config=[('learning', 'llm_provider',
                            'AnthropicLLMProvider')])
    requests = []

    def recorded(request):
        requests.append(request)
        return httpx.Response(500)
    provider = AnthropicLLMProvider(env)
    provider._http_client_factory = lambda: httpx.Client(
        transport=httpx.MockTransport(recorded))
    rows, error = doctor(env, capsys)
    assert error is None
    assert rows['llm'][0] == 'ok'
    assert 'not called' in rows['llm'][1]
    assert requests == []
    assert 'sk-ant-test' not in rows['llm'][1]


def test_an_embeddings_service_without_an_address_fails_in_its_words(
        make_env, capsys):
    env = make_env(config=[('learning', 'embedder', 'HttpEmbedder'),
                           ('embeddings', 'model', 'text-embedding-3-small'),
                           ('embeddings', 'dimension', '1536')])
    rows, error = doctor(env, capsys)
    assert rows['embedder'][0] == 'FAILED'
    assert '[embeddings] url' in rows['embedder'][1]
    assert error and 'embedder' in error


def test_a_configured_embeddings_service_passes_without_being_called(
        make_env, capsys):
    env = make_env(config=[('learning', 'embedder', 'HttpEmbedder'),
                           ('embeddings', 'url',
                            'http://127.0.0.1:%d/v1/embeddings'
                            % closed_port()),
                           ('embeddings', 'model', 'text-embedding-3-small'),
                           ('embeddings', 'dimension', '1536')])
    rows, _error = doctor(env, capsys)
    state, detail = rows['embedder']
    assert state == 'ok'
    assert 'text-embedding-3-small (1536 dimensions) at http://127.0.0.1' \
        in detail
    assert 'not called' in detail


def test_cognito_emulator_is_a_warning_with_its_keys(make_env, cognito,
                                                     capsys):
    env = make_env(config=cognito['options'])
    rows, error = doctor(env, capsys)
    assert error is None
    state, detail = rows['cognito']
    assert state == 'warning'
    assert cognito['pool_id'] in detail
    assert 'LOCAL COGNITO EMULATOR' in detail
    assert ' 0 signing keys' not in detail and 'signing keys at' in detail


def test_untrusted_emulator_keys_fail(make_env, cognito, capsys):
    options = [o for o in cognito['options'] if o[1] != 'allow_emulator']
    env = make_env(config=options + [('cognito', 'allow_emulator',
                                      'false')])
    rows, error = doctor(env, capsys)
    assert rows['cognito'][0] == 'FAILED'
    assert "not Cognito's own" in rows['cognito'][1]
    assert error and 'cognito' in error


def test_unreachable_key_set_fails(make_env, capsys):
    env = make_env(config=[
        ('cognito', 'user_pool_id', 'us-east-1_Doctor'),
        ('cognito', 'client_id', 'doctorclient'),
        ('cognito', 'jwks_uri',
         'http://127.0.0.1:%d/jwks.json' % closed_port()),
        ('cognito', 'allow_emulator', 'true'),
        ('cognito', 'timeout', '2')])
    rows, error = doctor(env, capsys)
    assert rows['cognito'][0] == 'FAILED'
    assert 'does not answer' in rows['cognito'][1]


def test_other_health_contributors_are_checked_too(env, capsys):
    env.enable_component(QueueHealth)
    rows, error = doctor(env, capsys)
    assert list(rows) == OWN_CHECKS + ['mail_queue', 'search_index',
                                       'exploding']
    assert rows['mail_queue'] == ('FAILED',
                                  'the mail queue holds 900 messages')
    assert rows['search_index'][0] == 'ok'
    assert rows['exploding'][0] == 'FAILED'
    assert 'the probe itself broke' in rows['exploding'][1]
    # A contribution under a name doctor checks itself joins its row.
    assert rows['cache'] == ('FAILED',
                             'the cache evicts entries within a second')
    assert error and 'mail_queue' in error and 'cache' in error


def test_run_checks_answers_the_table_as_data(env):
    results = DoctorAdminCommands(env).run_checks()
    assert [r.name for r in results] == OWN_CHECKS
    assert all(r.state in ('ok', 'warning') for r in results)


@pytest.mark.parametrize('backend', ['sqlite', pytest.param(
    'postgres', marks=pytest.mark.postgres)])
def test_trac_admin_exits_with_2_when_a_backend_is_broken(
        backend, tmp_path, request):
    """The exit status of the real console: 0 healthy, 2 broken."""
    if backend == 'sqlite':
        uri = 'sqlite:db/trac.db'
    else:
        uri = request.getfixturevalue('fresh_database')()
    path = tmp_path / 'project'
    env = real_env(path, uri)
    env.shutdown()

    def trac_admin(*args):
        # Imported first: the entry point may not be registered yet.
        code = ('import sys, tracl.admin.doctor; '
                'from trac.admin.console import run; '
                'sys.exit(run(sys.argv[1:]))')
        return subprocess.run([sys.executable, '-c', code, str(path)] +
                              list(args), capture_output=True, text=True,
                              timeout=300)
    healthy = trac_admin('learning', 'doctor')
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert parse_table(healthy.stdout)['database'][0] == 'ok'
    config = Configuration(str(path / 'conf' / 'trac.ini'))
    config.set('learning', 'graph_dot_path', str(tmp_path / 'no-dot'))
    config.save()
    broken = trac_admin('learning', 'doctor')
    assert broken.returncode == 2
    assert parse_table(broken.stdout)['graphviz'][0] == 'FAILED'
    assert 'Broken: graphviz' in broken.stderr


# grants -------------------------------------------------------------------

@pytest.mark.parametrize('role', ['Application_Role', 'app-role', '1role',
                                  'pg_app', 'public', 'app"; DROP TABLE x',
                                  'a' * 64, ''])
def test_grants_refuses_role_names_it_would_not_write_as_typed(env, role):
    with pytest.raises(AdminCommandError) as raised:
        learning(env, 'grants', role, '--print')
    assert 'role name' in str(raised.value)


@sqlite_only
def test_grants_refuses_sqlite(env):
    with pytest.raises(AdminCommandError) as raised:
        learning(env, 'grants', 'application_role')
    assert 'SQLite' in str(raised.value)


@pytest.fixture
def app_role(pg_database):
    role = 'tracl_app_%s' % uuid.uuid4().hex[:8]
    yield role
    drop_roles(pg_database, role)


def connect_as(uri, role):
    """A connection to `uri`'s database acting as `role` (SET ROLE)."""
    cnx = pg.connect(uri)
    cnx.cursor().execute('SET ROLE %s' % quote_identifier(role))
    return cnx


@postgres_only
@pytest.mark.parametrize('how', ['run', 'print'])
def test_granted_role_reads_and_writes_rows_but_cannot_change_tables(
        make_env, pg_database, app_role, how, capsys):
    env = make_env(default_data=True)
    path = study(env, 'sub-granted-before')
    if how == 'run':
        learning(env, 'grants', app_role)
        learning(env, 'grants', app_role)       # twice is harmless
        assert 'cannot log in' in capsys.readouterr().out
    else:
        capsys.readouterr()
        learning(env, 'grants', app_role, '--print')
        script = capsys.readouterr().out
        assert script.count('"%s"' % app_role) >= 10
        pg_tool('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
                libpq_uri(pg_database), '-f', '-', input=script)
    trac = 'tractest'
    cnx = connect_as(pg_database, app_role)
    cur = cnx.cursor()
    cur.execute('SELECT current_user')
    assert cur.fetchone()[0] == app_role
    for name in TABLES + VIEWS:
        cur.execute('SELECT count(*) FROM learning.%s' % name)
    cur.execute("SELECT total_concepts FROM learning.path_summary_view "
                "WHERE path_id = %s", (path['path_id'],))
    assert cur.fetchone()[0] == len(path['tickets'])
    # Writing rows, Trac's and learning ones, sequences included.
    cur.execute("INSERT INTO %s.ticket (type, time, changetime, summary, "
                "status, owner) VALUES ('learning_concept', 0, 0, 'Granted',"
                " 'new', 'sub-granted') RETURNING id" % trac)
    ticket = cur.fetchone()[0]
    cur.execute("INSERT INTO learning.concept_metadata (ticket_id, "
                "chunk_id, expected_answer, created_at) "
                "VALUES (%s, 'c1', 'x', 0)", (ticket,))
    cur.execute("INSERT INTO learning.progress (cognito_user_id, ticket_id) "
                "VALUES ('sub-granted', %s)", (ticket,))
    cur.execute("UPDATE learning.progress SET notes = 'n' "
                "WHERE ticket_id = %s RETURNING updated_by, update_count",
                (ticket,))
    assert cur.fetchone() == (app_role, 1)     # the audit trigger ran
    cur.execute("INSERT INTO learning.attempts (cognito_user_id, ticket_id,"
                " attempt, answer, score, grader, created_at) VALUES "
                "('sub-granted', %s, 1, 'a', 0.5, 'test', 0) RETURNING id",
                (ticket,))
    assert cur.fetchone()[0] is not None
    cur.execute("INSERT INTO learning.paths (id, title, query_text, "
                "cognito_user_id, created_at) VALUES (gen_random_uuid(), "
                "'t', 'q', 'sub-granted', 0) RETURNING id")
    path_id = cur.fetchone()[0]
    cur.execute("INSERT INTO learning.path_concepts (path_id, ticket_id, "
                "added_at) VALUES (%s, %s, 0)", (path_id, ticket))
    cur.execute("DELETE FROM learning.paths WHERE id = %s", (path_id,))
    # Deleting the ticket takes its learning rows with it.
    cur.execute("DELETE FROM %s.ticket WHERE id = %%s" % trac, (ticket,))
    cur.execute("SELECT (SELECT count(*) FROM learning.progress "
                "WHERE ticket_id = %s) + (SELECT count(*) FROM "
                "learning.attempts WHERE ticket_id = %s)", (ticket, ticket))
    assert cur.fetchone()[0] == 0
    # Tables a later upgrade creates, as the role that granted: granted too.
    with env.db_transaction as db:
        db("CREATE TABLE learning.later_upgrade (x integer)")
    cur.execute("INSERT INTO learning.later_upgrade VALUES (1)")
    # ... but never changing what the tables are.
    for statement in ('DROP TABLE learning.progress',
                      'DROP VIEW learning.path_summary_view',
                      'TRUNCATE learning.attempts',
                      'ALTER TABLE learning.chunks ADD COLUMN x integer',
                      'CREATE TABLE learning.intruder (x integer)',
                      'DROP SCHEMA learning CASCADE',
                      'DROP TABLE %s.ticket' % trac,
                      'CREATE TABLE %s.intruder (x integer)' % trac):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(statement)
    cnx.close()


@pytest.mark.postgres
def test_the_application_runs_as_a_member_of_the_granted_role(
        fresh_database, tmp_path, capsys):
    """What the RDS deployment does: the owner creates the environment and
    runs `learning grants`; the application connects as a login role in
    the granted role, studies, and `doctor` finds nothing broken."""
    owner_uri = fresh_database()
    suffix = uuid.uuid4().hex[:8]
    group, login = 'tracl_group_%s' % suffix, 'tracl_login_%s' % suffix
    password = uuid.uuid4().hex
    path = tmp_path / 'rds'
    try:
        owner_env = real_env(path, owner_uri)
        try:
            learning(owner_env, 'grants', group)
            owner_env.config.set('trac', 'database', libpq_uri(
                owner_uri, login, password))
            owner_env.config.save()
        finally:
            owner_env.shutdown()
        cnx = pg.connect(owner_uri)
        cnx.cursor().execute("CREATE ROLE %s LOGIN PASSWORD %%s IN ROLE %s"
                             % (login, group), (password,))
        cnx.close()
        app_env = Environment(str(path))
        try:
            assert app_env.db_query("SELECT current_user")[0][0] == login
            study(app_env, 'sub-on-rds')
            capsys.readouterr()
            rows, error = doctor(app_env, capsys)
            assert error is None, rows
            assert rows['learning_schema'][0] == 'ok'
            with pytest.raises(app_env.db_exc.ProgrammingError):
                with app_env.db_transaction as db:
                    db("DROP TABLE learning.attempts")
        finally:
            app_env.shutdown()
    finally:
        drop_roles(owner_uri, login, group)


# Backup and restore: the recipes of docs/operations.md, run as written ---

DOCS = Path(__file__).resolve().parents[2] / 'docs' / 'operations.md'

#: The recipes marked `<!-- test: NAME -->` in the document.
RECIPES = ('dump', 'restore', 'restore-in-parts', 'dump-learning',
           'restore-learning-in-place', 'hotcopy')


def recipe(name):
    """The shell block following `<!-- test: NAME -->` in the document."""
    text = DOCS.read_text(encoding='utf-8')
    after = text[text.index('<!-- test: %s -->' % name):]
    return after.split('```sh\n', 1)[1].split('```', 1)[0]


def run_recipe(name, check=True, **variables):
    """Run a recipe in bash with PostgreSQL's clients and trac-admin on
    the PATH and `variables` ($DB, $BACKUP, ...) in its environment."""
    path = os.pathsep.join([PG_BIN, os.path.dirname(sys.executable),
                            os.environ['PATH']])
    result = subprocess.run(
        ['bash', '-euo', 'pipefail', '-c', recipe(name)],
        env=dict(os.environ, PATH=path, **variables), capture_output=True,
        text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_every_tested_recipe_of_the_document_is_run():
    marked = re.findall(r'<!-- test: ([a-z-]+) -->',
                        DOCS.read_text(encoding='utf-8'))
    assert sorted(marked) == sorted(RECIPES)


@pytest.fixture
def studied(make_env, pg_database, tmp_path):
    """A PostgreSQL environment two learners studied in, and the recipes'
    variables for its database."""
    env = make_env(default_data=True)
    study(env, 'sub-backup-1')
    study(env, 'sub-backup-2')
    return env, {'DB': libpq_uri(pg_database), 'TRAC_SCHEMA': 'tractest',
                 'BACKUP': str(tmp_path)}


@postgres_only
def test_dump_restores_everything_into_a_fresh_database(
        studied, pg_database, fresh_database):
    env, variables = studied
    source = pg.connect(pg_database)
    before = row_counts(source, ['tractest', 'learning'])
    source.close()
    assert before['learning.attempts'] == 2
    assert before['learning.progress'] > 0 and before['tractest.ticket'] > 0
    run_recipe('dump', **variables)
    target_uri = fresh_database()
    run_recipe('restore', NEWDB=libpq_uri(target_uri), **variables)
    target = pg.connect(target_uri)
    try:
        assert row_counts(target, ['tractest', 'learning']) == before
        cur = target.cursor()
        # The restored schema still guards itself: trigger and cascade.
        cur.execute("UPDATE learning.progress SET notes = 'restored' "
                    "RETURNING update_count")
        assert all(count >= 1 for count, in cur.fetchall())
        cur.execute("DELETE FROM tractest.ticket "
                    "WHERE type = 'learning_concept'")
        cur.execute("SELECT count(*) FROM learning.progress")
        assert cur.fetchone()[0] == 0
    finally:
        target.close()


@postgres_only
def test_restore_in_parts_puts_trac_tables_first(studied, pg_database,
                                                 fresh_database):
    env, variables = studied
    source = pg.connect(pg_database)
    before = row_counts(source, ['tractest', 'learning'])
    source.close()
    run_recipe('dump', **variables)
    # The other order: the learning schema names Trac's tables.
    wrong = libpq_uri(fresh_database())
    pg_tool('psql', '-X', '-q', '-d', wrong, '-c', 'CREATE SCHEMA learning')
    refused = pg_tool('pg_restore', '--single-transaction', '--exit-on-error',
                      '--no-owner', '--no-acl', '--schema=learning',
                      '--dbname=' + wrong, variables['BACKUP'] + '/tracl.dump',
                      check=False)
    assert refused.returncode != 0
    assert 'tractest' in refused.stderr
    target_uri = fresh_database()
    run_recipe('restore-in-parts', NEWDB=libpq_uri(target_uri), **variables)
    target = pg.connect(target_uri)
    try:
        assert row_counts(target, ['tractest', 'learning']) == before
    finally:
        target.close()


@postgres_only
def test_learning_schema_is_restored_in_place(studied, pg_database):
    """Undoing a bad change to the learning rows: the learning dump of the
    same database, restored over the current learning schema."""
    env, variables = studied
    cnx = pg.connect(pg_database)
    try:
        before = row_counts(cnx, ['learning'])
        trac_before = row_counts(cnx, ['tractest'])
        run_recipe('dump-learning', **variables)
        with env.db_transaction as db:
            db(sql(env, "DELETE FROM {progress}"))
            db(sql(env, "DELETE FROM {paths}"))
        assert row_counts(cnx, ['learning']) != before
        run_recipe('restore-learning-in-place', **variables)
        assert row_counts(cnx, ['learning']) == before
        assert row_counts(cnx, ['tractest']) == trac_before
        # Deleted tickets: their learning rows are refused, nothing changes.
        with env.db_transaction as db:
            db("DELETE FROM ticket WHERE type = 'learning_concept'")
        emptied = row_counts(cnx, ['learning'])
        refused = run_recipe('restore-learning-in-place', check=False,
                             **variables)
        assert refused.returncode != 0
        assert 'foreign key' in refused.stderr
        assert row_counts(cnx, ['learning']) == emptied
    finally:
        cnx.close()


def test_sqlite_hotcopy_carries_the_learning_tables(tmp_path):
    """SQLite keeps the learning tables in the environment's trac.db:
    `trac-admin ENV hotcopy` copies them with everything else."""
    source = tmp_path / 'project'
    env = real_env(source, 'sqlite:db/trac.db')
    try:
        study(env, 'sub-hotcopy')
        counts = {name: env.db_query(sql(env, 'SELECT count(*) FROM {%s}'
                                         % name))[0][0] for name in TABLES}
    finally:
        env.shutdown()
    assert counts['attempts'] == 1 and counts['paths'] == 1
    run_recipe('hotcopy', ENV=str(source), BACKUP=str(tmp_path))
    restored = Environment(str(tmp_path / 'tracl-env'))
    try:
        assert {name: restored.db_query(sql(
            restored, 'SELECT count(*) FROM {%s}' % name))[0][0]
            for name in TABLES} == counts
    finally:
        restored.shutdown()


@pytest.mark.postgres
def test_trac_hotcopy_on_postgres_leaves_the_learning_schema_out(
        fresh_database, tmp_path):
    """Why the document says to use pg_dump: Trac's own backup (hotcopy,
    upgrade) dumps Trac's schema only."""
    path = tmp_path / 'project'
    real_env(path, fresh_database()).shutdown()
    copy = tmp_path / 'copy'
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'trac-admin'),
         str(path), 'hotcopy', str(copy)], capture_output=True, text=True,
        timeout=300, env=dict(os.environ, PATH=os.pathsep.join(
            [PG_BIN, os.environ['PATH']])))
    assert result.returncode == 0, result.stdout + result.stderr
    dumps = list(copy.glob('db/*.gz'))
    assert len(dumps) == 1
    with gzip.open(dumps[0], 'rt', encoding='utf-8') as f:
        dump = f.read()
    assert 'CREATE TABLE public.ticket' in dump
    assert 'learning.' not in dump
