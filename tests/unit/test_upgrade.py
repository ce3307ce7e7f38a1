"""Enabling TracLearn on an existing Trac environment: `trac-admin ENV
upgrade` adds the learning tables and settings and changes none of the
environment's data (Trac's 21 tables keep their columns, keys and rows),
but for Trac's stock wiki and ticket write grants to signed-in users,
which TracLearn's default permissions replace (and the upgrade prints the
command that restores them); the team's own grants stay."""

import os
import subprocess
import sys
import uuid

import pytest
from trac import db_default
from trac.config import Configuration
from trac.db.api import DatabaseManager
from trac.env import open_environment
from trac.perm import PermissionSystem
from trac.ticket.model import Milestone, Ticket
from trac.wiki.model import WikiPage

from support import pg
from tracl.auth.default_permissions import (
    DEFAULT_GRANTS, PERMISSIONS_VERSION, PERMISSIONS_VERSION_NAME,
    STOCK_WRITE_ACTIONS)
from tracl.schema import SCHEMA_VERSION, SCHEMA_VERSION_NAME, TABLES

TRAC_ADMIN = os.path.join(os.path.dirname(sys.executable), 'trac-admin')


def trac_admin(env_path, *args):
    result = subprocess.run([TRAC_ADMIN, env_path] + list(args),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def dump_trac_tables(env):
    """Every row of Trac's own tables, in a stable order."""
    dump = {}
    with env.db_query as db:
        for table in db_default.schema:
            columns = [c.name for c in table.columns]
            dump[table.name] = (columns, db("SELECT %s FROM %s ORDER BY %s" % (
                ','.join(db.quote(c) for c in columns), db.quote(table.name),
                ','.join(str(i + 1) for i in range(len(columns))))))
    return dump


def add_project_data(env):
    """What a team that has used Trac for a while has: milestones,
    tickets with changes and custom fields, wiki pages."""
    for name in ('1.0', '2.0'):
        milestone = Milestone(env)
        milestone.name = name
        milestone.description = 'Release %s' % name
        milestone.insert()
    for i in range(5):
        ticket = Ticket(env)
        ticket.populate({'summary': 'Bug %d' % i, 'type': 'defect',
                         'status': 'new', 'reporter': 'alice',
                         'milestone': '1.0', 'estimate': str(i),
                         'description': 'It breaks when %d' % i})
        ticket.insert()
        ticket['status'] = 'assigned'
        ticket['owner'] = 'bob'
        ticket.save_changes('bob', 'Looking at it')
    page = WikiPage(env, 'TeamNotes')
    page.text = "= Notes =\nWe ship on Fridays."
    page.save('alice', 'first notes')
    # The team's own grants, to a user and to a group of theirs.
    perms = PermissionSystem(env)
    perms.grant_permission('bob', 'TICKET_ADMIN')
    perms.grant_permission('developers', 'WIKI_MODIFY')
    perms.grant_permission('alice', 'developers')


@pytest.fixture(params=['sqlite', pytest.param('postgres',
                                               marks=pytest.mark.postgres)])
def existing_env(request, tmp_path):
    """A Trac environment created and filled by plain Trac, without
    TracLearn."""
    path = str(tmp_path / 'project')
    if request.param == 'sqlite':
        uri, schema = 'sqlite:db/trac.db', None
    else:
        schema = 'upgrade_%s' % uuid.uuid4().hex[:8]
        uri = request.getfixturevalue('pg_database') + '?schema=' + schema
        cnx = pg.connect(uri)
        cnx.cursor().execute('DROP SCHEMA IF EXISTS learning CASCADE')
        cnx.close()
    trac_admin(path, 'initenv', 'Existing project', uri)
    config = Configuration(os.path.join(path, 'conf', 'trac.ini'))
    config.set('ticket-custom', 'estimate', 'text')
    config.save()
    env = open_environment(path, use_cache=False)
    add_project_data(env)
    env.shutdown()
    yield path
    if schema:
        cnx = pg.connect(uri)
        cursor = cnx.cursor()
        cursor.execute('DROP SCHEMA IF EXISTS learning CASCADE')
        cursor.execute('DROP SCHEMA IF EXISTS "%s" CASCADE' % schema)
        cnx.close()


@pytest.mark.slow
def test_upgrade_adds_learning_schema_and_keeps_existing_data(existing_env):
    env = open_environment(existing_env, use_cache=False)
    before = dump_trac_tables(env)
    workflow_before = list(env.config.options('ticket-workflow'))
    env.shutdown()

    config = Configuration(os.path.join(existing_env, 'conf', 'trac.ini'))
    config.set('components', 'tracl.*', 'enabled')
    config.save()
    output = trac_admin(existing_env, 'upgrade')
    assert 'Upgrade done' in output
    restore = 'trac-admin %s permission add authenticated %s' % (
        existing_env, ' '.join(STOCK_WRITE_ACTIONS))
    assert restore in [line.strip() for line in output.splitlines()], output

    env = open_environment(existing_env, use_cache=False)
    after = dump_trac_tables(env)
    dbm = DatabaseManager(env)
    # Trac's tables keep their columns, in order.
    for table in db_default.schema:
        assert dbm.get_column_names(table.name) == \
            [c.name for c in table.columns], table.name
    # Only two rows are added to Trac's tables: our type and our version.
    for name in before:
        if name in ('enum', 'system', 'cache', 'permission'):
            continue
        assert after[name] == before[name], name
    # `cache` holds Trac's cache generations: adding a ticket type bumps the
    # generation of the ticket fields, changing permissions that of the
    # permission store, nothing else.
    generations = lambda dump: {key: gen for _, gen, key in dump['cache'][1]}
    changed = {key for key, gen in generations(after).items()
               if generations(before).get(key) != gen}
    assert changed <= {'trac.ticket.api.TicketSystem.fields',
                       'trac.perm.DefaultPermissionStore._all_permissions'}
    added_enum = set(after['enum'][1]) - set(before['enum'][1])
    assert [row[:2] for row in added_enum] == \
        [('ticket_type', 'learning_concept')]
    assert set(before['enum'][1]) <= set(after['enum'][1])
    # The default grants of the LEARNING_* actions (schema version 2) and
    # the default permissions in place of Trac's stock write grants to
    # everyone; the team's own grants stay.
    stock_writes = {('authenticated', action)
                    for action in STOCK_WRITE_ACTIONS}
    assert stock_writes <= set(before['permission'][1])
    assert set(after['permission'][1]) - set(before['permission'][1]) == \
        {('learner', 'LEARNING_STUDY'), ('admin', 'LEARNING_ADMIN')} | \
        set(DEFAULT_GRANTS)
    assert set(before['permission'][1]) - set(after['permission'][1]) == \
        stock_writes
    assert {('bob', 'TICKET_ADMIN'), ('developers', 'WIKI_MODIFY'),
            ('alice', 'developers')} <= set(after['permission'][1])
    added_system = set(after['system'][1]) - set(before['system'][1])
    assert added_system == {(SCHEMA_VERSION_NAME, str(SCHEMA_VERSION)),
                            (PERMISSIONS_VERSION_NAME,
                             str(PERMISSIONS_VERSION))}
    # The learning tables exist and are empty.
    with env.db_query as db:
        from tracl.schema import sql
        for table in TABLES:
            assert db(sql(env, 'SELECT COUNT(*) FROM {%s}' % table)) == [(0,)]
    # Settings: custom fields added beside the team's own, workflow kept.
    assert env.config.get('ticket-custom', 'estimate') == 'text'
    assert env.config.get('ticket-custom', 'question') == 'textarea'
    assert list(env.config.options('ticket-workflow')) == workflow_before
    assert env.config.getlist('trac', 'permission_policies')[0] == \
        'ConceptOwnerPolicy'
    assert env.config.get('components', 'trac.web.auth.loginmodule') == \
        'disabled'
    assert env.config.get('components',
                          'trac.ticket.query.ticketquerymacro') == 'disabled'
    # initenv wrote Trac's default provider: the progress bars now count
    # learning progress.
    for section in ('roadmap', 'milestone'):
        assert env.config.get(section, 'stats_provider') == \
            'LearningGroupStatsProvider'
    assert not env.needs_upgrade()
    env.shutdown()

    # The printed command gives the stock grants back.
    trac_admin(existing_env, *restore.split()[2:])
    env = open_environment(existing_env, use_cache=False)
    assert stock_writes <= set(PermissionSystem(env).get_all_permissions())
    env.shutdown()


@pytest.mark.slow
def test_a_second_upgrade_finds_nothing_to_do(existing_env):
    config = Configuration(os.path.join(existing_env, 'conf', 'trac.ini'))
    config.set('components', 'tracl.*', 'enabled')
    config.save()
    trac_admin(existing_env, 'upgrade')
    output = trac_admin(existing_env, 'upgrade')
    assert 'Database is up to date, no upgrade necessary.' in output
