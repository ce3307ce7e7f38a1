"""Trac test environments with TracLearn enabled."""

from importlib.metadata import entry_points

from trac.test import EnvironmentStub

from tracl.environment import LearningEnvironmentSetup
from tracl.schema import PG_SCHEMA, dialect

ENABLED = ['trac.*', 'tracl.*']


def load_plugin_modules():
    """Import every module TracLearn registers as a Trac plugin, as Trac's
    loader does in a real environment (and so check the entry points)."""
    for entry_point in entry_points(group='trac.plugins'):
        if entry_point.dist.name == 'TracLearn':
            entry_point.load()


load_plugin_modules()


def learning_env(enable=None, config=None, default_data=False):
    """An `EnvironmentStub` on `TRAC_TEST_DB_URI` with TracLearn's schema,
    ticket type and custom fields, as a new environment would have them."""
    # What environment setup writes to trac.ini, given up front: a stub
    # decides which components are enabled before setup runs.
    config = [('components', 'trac.web.auth.loginmodule', 'disabled'),
              ('components', 'trac.ticket.query.ticketquerymacro',
               'disabled')] + list(config or [])
    env = EnvironmentStub(default_data=default_data,
                          enable=enable or ENABLED, config=config)
    if dialect(env) == 'postgres':
        drop_learning_schema(env)
    LearningEnvironmentSetup(env).environment_created()
    return env


def drop_learning_schema(env):
    with env.db_transaction as db:
        db('DROP SCHEMA IF EXISTS %s CASCADE' % PG_SCHEMA)


def destroy_env(env):
    if dialect(env) == 'postgres':
        drop_learning_schema(env)
        env.destroy_db()
    else:
        env.reset_db()
    env.shutdown()
