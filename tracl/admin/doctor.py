"""`learning doctor`: checking a deployment.

`doctor` runs every check it knows and every `IHealthContributor` check,
prints one row per check and ends in an error (trac-admin exits with
status 2) when something configured is broken. A warning (no chunks yet,
no user pool yet, the Cognito emulator, the roadmap counting tickets) does
not fail it. It makes no paid request: the language model and an HTTP
embeddings service are checked by what they report of their
configuration, never called. What a backend says of its own health it
reports itself (`IHealthContributor`); doctor folds each report into the
row of the same name.
"""

import textwrap
from collections import namedtuple

import httpx
from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, ExtensionPoint, implements
from trac.db.api import DatabaseManager
from trac.util.text import exception_to_unicode, print_table, printout
from trac.util.translation import _

from tracl.api import IHealthContributor
from tracl.auth.config import EMULATOR_WARNING, CognitoConfig
from tracl.auth.permissions import ConceptOwnerPolicy
from tracl.auth.tokens import is_cognito_keys_uri
from tracl.cache import LearningCache
from tracl.embedding import EmbeddingUnavailable, LearningEmbedder
from tracl.environment import (CONCEPT_POLICY, LEARNING_STATS_PROVIDER,
                               STATS_PROVIDER_SECTIONS,
                               LearningEnvironmentSetup)
from tracl.graph.render import RenderError, run_dot
from tracl.graph.service import KnowledgeGraphs
from tracl.llm import LearningLLM
from tracl.schema import (PG_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_NAME,
                          TABLES, VIEWS, dialect, table_name)
from tracl.search import ChunkStoreUnavailable, LearningChunkStore
from tracl.study.roadmap import LearningGroupStatsProvider
from tracl.util import without_credentials

# The states of a check.
OK = 'ok'
WARNING = 'warning'
FAILED = 'FAILED'

#: One row of the doctor's table.
CheckResult = namedtuple('CheckResult', 'name state detail')

#: The foreign keys of the learning tables (schema version 1), as
#: `(table, columns, referenced table)`, all `ON DELETE CASCADE`: without
#: them a deleted ticket would leave learning rows behind.
FOREIGN_KEYS = (
    ('path_concepts', ('path_id',), 'paths'),
    ('path_concepts', ('ticket_id',), 'ticket'),
    ('concept_metadata', ('ticket_id',), 'ticket'),
    ('prerequisites', ('concept_ticket_id',), 'ticket'),
    ('prerequisites', ('prerequisite_ticket_id',), 'ticket'),
    ('progress', ('ticket_id',), 'ticket'),
    ('attempts', ('cognito_user_id', 'ticket_id'), 'progress'),
)

#: The audit trigger on the progress table, by dialect: it records who
#: changed a learner's progress and how often.
AUDIT_TRIGGERS = {'postgres': 'progress_audit_trigger',
                  'sqlite': 'learning_progress_audit_trigger'}

#: The graph `doctor` asks GraphViz to draw.
PROBE_GRAPH = 'digraph doctor { prerequisite -> concept }'

#: Width of the detail column of the doctor's table.
DETAIL_WIDTH = 64

def _joined(problems):
    return '; '.join(problems)


def _verdict(problems, detail):
    """FAILED with the contributed `problems`, else OK with `detail`."""
    if problems:
        return FAILED, _joined(problems)
    return OK, detail

class DoctorAdminCommands(Component):
    """Check a deployment: every configured backend and setting."""

    implements(IAdminCommandProvider)

    health_contributors = ExtensionPoint(IHealthContributor)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning doctor', '',
               """Check every configured backend

               The database and the learning schema, the cache, the
               embedder, the chunk store, the language model, Cognito,
               GraphViz, the permission policy and the roadmap, and every
               service that reports to /api/v1/health. Prints a table of
               checks; exits with an error when something configured is
               broken. Makes no paid request.""",
               None, self._doctor)

    # Commands

    def _doctor(self):
        results = self.run_checks()
        print_table([(r.name, r.state, self._wrapped(r.detail))
                     for r in results],
                    [_("Check"), _("State"), _("Detail")])
        failed = [r.name for r in results if r.state == FAILED]
        warned = [r.name for r in results if r.state == WARNING]
        if failed:
            raise AdminCommandError(_(
                "Broken: %(failed)s. The table above says what is wrong "
                "and what to do.", failed=', '.join(failed)))
        if warned:
            printout(_("No check failed; warnings: %(warned)s.",
                       warned=', '.join(warned)))
        else:
            printout(_("Every check passed."))

    # Public methods

    def run_checks(self):
        """Every check, as `CheckResult`s: TracLearn's own, each with the
        `IHealthContributor` checks of the same name folded in, then the
        contributors' other checks."""
        contributed = {}
        for contributor in self.health_contributors:
            for name, check in contributor.get_health_checks():
                contributed.setdefault(name, []).append(check)
        results = []
        for name, check in self._checks():
            problems = self._problems(contributed.pop(name, []))
            results.append(self._run(name, check, problems))
        for name, checks in contributed.items():
            problems = self._problems(checks)
            results.append(CheckResult(name, *_verdict(problems, _(
                "reported healthy"))))
        return results

    # The checks: each takes the problems contributors reported under its
    # name and returns `(state, detail)`.

    def _checks(self):
        return [('database', self._check_database),
                ('learning_schema', self._check_learning_schema),
                ('cache', self._check_cache),
                ('embedder', self._check_embedder),
                ('chunk_store', self._check_chunk_store),
                ('llm', self._check_llm),
                ('cognito', self._check_cognito),
                ('graphviz', self._check_graphviz),
                ('permission_policies', self._check_permission_policies),
                ('stats_provider', self._check_stats_provider)]

    def _check_database(self, problems):
        dialect_name = dialect(self.env)
        with self.env.db_query as db:
            if dialect_name == 'postgres':
                version = 'PostgreSQL ' + db(
                    "SELECT current_setting('server_version')")[0][0]
            else:
                version = 'SQLite ' + db("SELECT sqlite_version()")[0][0]
        where = without_credentials(DatabaseManager(self.env).connection_uri)
        found = DatabaseManager(self.env).get_database_version(
            SCHEMA_VERSION_NAME)
        if not found or found < SCHEMA_VERSION:
            problems.append(_(
                "learning schema version %(found)s, this TracLearn needs "
                "%(wanted)s: run trac-admin ENV upgrade", found=found or 0,
                wanted=SCHEMA_VERSION))
        elif found > SCHEMA_VERSION:
            problems.append(_(
                "learning schema version %(found)s is newer than this "
                "TracLearn's (%(wanted)s): install the TracLearn that "
                "upgraded it", found=found, wanted=SCHEMA_VERSION))
        elif LearningEnvironmentSetup(self.env).environment_needs_upgrade():
            problems.append(_("the learning ticket type, custom fields or "
                              "settings are incomplete: run trac-admin ENV "
                              "upgrade"))
        return _verdict(problems, _(
            "%(version)s at %(where)s, learning schema version "
            "%(schema)s", version=version, where=where, schema=found))

    def _check_learning_schema(self, problems):
        dialect_name = dialect(self.env)
        with self.env.db_query as db:
            if dialect_name == 'postgres':
                objects, keys, trigger, fk_enforced = \
                    self._postgres_schema(db)
            else:
                objects, keys, trigger, fk_enforced = self._sqlite_schema(db)
        missing = [table_name(dialect_name, name)
                   for name in TABLES + VIEWS if name not in objects]
        if missing:
            problems.append(_("missing %(names)s: run trac-admin ENV "
                              "upgrade", names=', '.join(missing)))
        lost_keys = ['%s(%s) -> %s' % (table, ', '.join(columns), referenced)
                     for table, columns, referenced in FOREIGN_KEYS
                     if keys.get((table, columns, referenced)) is not True]
        if lost_keys:
            problems.append(_(
                "foreign keys missing or without ON DELETE CASCADE: "
                "%(keys)s (a deleted ticket would leave learning rows "
                "behind)", keys='; '.join(lost_keys)))
        if trigger != 'enabled':
            problems.append(_("the audit trigger %(name)s is %(state)s",
                              name=AUDIT_TRIGGERS[dialect_name],
                              state=trigger))
        if not fk_enforced:
            problems.append(_("SQLite does not enforce foreign keys on this "
                              "connection: enable the component "
                              "tracl.sqlite.ForeignKeySQLiteConnector"))
        where = _("schema %(schema)s", schema=PG_SCHEMA) \
            if dialect_name == 'postgres' else _("learning_* tables")
        return _verdict(problems, _(
            "%(where)s: %(tables)d tables, %(views)d views, %(keys)d "
            "foreign keys with ON DELETE CASCADE, audit trigger",
            where=where, tables=len(TABLES), views=len(VIEWS),
            keys=len(FOREIGN_KEYS)))

    def _check_cache(self, problems):
        backend = LearningCache(self.env).backend
        problem = backend.ping()
        if problem:
            problems.insert(0, problem)
        return _verdict(problems, _("%(backend)s answers",
                                    backend=backend.describe()))

    def _check_embedder(self, problems):
        embedder = LearningEmbedder(self.env).embedder
        try:
            model, dimension = embedder.model_name(), embedder.dimension()
            # Loads and runs what runs here; a service elsewhere is left
            # alone, as its requests may be billed.
            how = embedder.warm_up() or _("not called (requests may be "
                                          "billed)")
        except EmbeddingUnavailable as e:
            # The embedder's own report, when it made one, says the same
            # in its words.
            return FAILED, _joined(problems or [str(e)])
        return _verdict(problems, _(
            "%(component)s: %(model)s (%(dimension)d dimensions) %(where)s; "
            "%(how)s", component=embedder.__class__.__name__, model=model,
            dimension=dimension, where=embedder.describe(), how=how))

    def _check_chunk_store(self, problems):
        store = LearningChunkStore(self.env).store
        try:
            stats = store.stats()
        except ChunkStoreUnavailable as e:
            return FAILED, _joined([str(e)] + problems)
        if not stats.get('chunks'):
            # Not broken, only not filled yet; the store's own words say
            # how to fill it.
            return WARNING, _joined(problems) or _(
                "no chunks yet: import a corpus with trac-admin ENV "
                "learning import FILE.jsonl")
        stored = (stats.get('embedding_model'), stats.get('dimension'))
        if stats.get('embedding_models'):
            problems.append(_("the chunks mix embedding models (%(models)s): "
                              "trac-admin ENV learning reindex",
                              models='; '.join(stats['embedding_models'])))
        if not problems:
            self._compare_with_embedder(stored, problems)
        return _verdict(problems, _(
            "%(chunks)d chunks in %(subjects)d subjects, %(model)s "
            "(%(dimension)s dimensions); %(store)s", chunks=stats['chunks'],
            subjects=len(stats.get('subjects') or ()),
            model=stored[0] or '-', dimension=stored[1] or '-',
            store=store.describe()))

    def _check_llm(self, problems):
        # What a provider that calls out knows of its state (its key, its
        # circuit) it reports itself, in `problems`.
        provider = LearningLLM(self.env).provider
        return _verdict(problems, _(
            "%(provider)s; not called (doctor makes no request that may be "
            "billed)", provider=provider.describe()))

    def _check_cognito(self, problems):
        config = CognitoConfig(self.env)
        if not config.configured:
            if problems:
                return FAILED, _joined(problems)
            return WARNING, _("no user pool: nobody can sign in until "
                              "[cognito] user_pool_id and client_id are set")
        keys_uri = config.keys_uri
        kids = []
        if config.allow_emulator or is_cognito_keys_uri(keys_uri,
                                                        config.region):
            kids = self._signing_keys(keys_uri, config.timeout, problems)
        else:
            problems.append(_(
                "the key set %(uri)s is not Cognito's own and [cognito] "
                "allow_emulator is off: every token is refused",
                uri=keys_uri))
        state, detail = _verdict(problems, _(
            "pool %(pool)s, app client %(client)s, %(keys)d signing keys at "
            "%(uri)s", pool=config.user_pool_id, client=config.client_id,
            keys=len(kids), uri=keys_uri))
        if state == OK and config.allow_emulator:
            return WARNING, detail + '. ' + EMULATOR_WARNING
        return state, detail

    def _check_graphviz(self, problems):
        graphs = KnowledgeGraphs(self.env)
        formats = [graphs.default_format]
        if graphs.default_format == 'png':
            formats.append('cmapx')
        try:
            run_dot(PROBE_GRAPH, formats, graphs.timeout, graphs.max_bytes,
                    graphs.dot_path)
        except (RenderError, OSError) as e:
            problems.insert(0, _(
                "%(path)s: %(error)s Install graphviz or set [learning] "
                "graph_dot_path", path=graphs.dot_path,
                error=exception_to_unicode(e)))
        return _verdict(problems, _("%(path)s draws %(format)s",
                                    path=graphs.dot_path,
                                    format=graphs.default_format))

    def _check_permission_policies(self, problems):
        policies = self.config.getlist('trac', 'permission_policies')
        if not policies or policies[0] != CONCEPT_POLICY:
            problems.append(_(
                "%(policy)s is not first in [trac] permission_policies "
                "(%(policies)s): a policy before it may show a learner's "
                "concepts to others", policy=CONCEPT_POLICY,
                policies=', '.join(policies)))
        if not self.env.is_component_enabled(ConceptOwnerPolicy):
            problems.append(_("the component %(policy)s is disabled",
                              policy=CONCEPT_POLICY))
        return _verdict(problems, ', '.join(policies))

    def _check_stats_provider(self, problems):
        chosen = {section: self.config.get(section, 'stats_provider')
                  for section in STATS_PROVIDER_SECTIONS}
        detail = ', '.join('[%s] %s' % item for item in chosen.items())
        if problems:
            return FAILED, _joined(problems)
        if LEARNING_STATS_PROVIDER in chosen.values() and \
                not self.env.is_component_enabled(LearningGroupStatsProvider):
            return FAILED, _("%(provider)s is chosen but disabled: the "
                             "roadmap fails", provider=LEARNING_STATS_PROVIDER)
        others = [section for section, name in chosen.items()
                  if name != LEARNING_STATS_PROVIDER]
        if others:
            return WARNING, _(
                "%(detail)s: the progress bars of %(pages)s count tickets, "
                "not learning progress (set stats_provider = %(provider)s)",
                detail=detail, pages=', '.join(others),
                provider=LEARNING_STATS_PROVIDER)
        return OK, detail

    # Internal methods

    def _run(self, name, check, problems):
        """Run one check; a check that raises has FAILED with the error."""
        try:
            state, detail = check(list(problems))
        except Exception as e:
            self.log.warning("learning doctor: check %s raised %s", name,
                             exception_to_unicode(e, traceback=True))
            state, detail = FAILED, _joined(
                [exception_to_unicode(e)] + problems)
        return CheckResult(name, state, detail)

    def _problems(self, checks):
        """What the contributed `checks` report, each `None` when fine."""
        problems = []
        for check in checks:
            try:
                problem = check()
            except Exception as e:
                problem = _("the check raised %(error)s",
                            error=exception_to_unicode(e))
            if problem:
                problems.append(problem)
        return problems

    def _compare_with_embedder(self, stored, problems):
        try:
            embedder = LearningEmbedder(self.env).embedder
            wanted = (embedder.model_name(), embedder.dimension())
        except EmbeddingUnavailable:
            return              # the embedder's row says why
        model, dimension = stored
        if model is not None and model != wanted[0] or \
                dimension is not None and dimension != wanted[1]:
            problems.append(_(
                "the chunks were embedded with %(model)s (%(dimension)s "
                "dimensions) but [learning] embedder gives %(wanted)s "
                "(%(wanted_dimension)d dimensions): trac-admin ENV learning "
                "reindex", model=model, dimension=dimension,
                wanted=wanted[0], wanted_dimension=wanted[1]))

    def _signing_keys(self, keys_uri, timeout, problems):
        """The RSA key ids the key set at `keys_uri` serves."""
        try:
            response = httpx.get(keys_uri, timeout=timeout,
                                 headers={'Accept': 'application/json'})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as e:
            problems.append(_("the key set %(uri)s does not answer "
                              "(%(error)s): no token can be checked",
                              uri=keys_uri, error=exception_to_unicode(e)
                              or e.__class__.__name__))
            return []
        keys = document.get('keys') if isinstance(document, dict) else None
        kids = [key.get('kid') for key in keys or ()
                if isinstance(key, dict) and key.get('kty') == 'RSA' and
                key.get('kid')]
        if not kids:
            problems.append(_("the key set %(uri)s holds no RSA signing "
                              "key", uri=keys_uri))
        return kids

    def _postgres_schema(self, db):
        """`(objects, keys, trigger state, True)` of schema `learning`."""
        objects = {name for name, in db("""
            SELECT c.relname FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
            WHERE s.nspname = %s AND c.relkind IN ('r', 'p', 'v')
            """, (PG_SCHEMA,))}
        keys = {}
        for table, referenced, on_delete, columns in db("""
                SELECT c.relname, r.relname, k.confdeltype,
                       ARRAY(SELECT a.attname::text
                             FROM unnest(k.conkey) WITH ORDINALITY
                                  AS u(attnum, n)
                             JOIN pg_catalog.pg_attribute a
                               ON a.attrelid = k.conrelid
                              AND a.attnum = u.attnum
                             ORDER BY u.n)
                FROM pg_catalog.pg_constraint k
                JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
                JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
                JOIN pg_catalog.pg_class r ON r.oid = k.confrelid
                WHERE k.contype = 'f' AND s.nspname = %s
                """, (PG_SCHEMA,)):
            keys[(table, tuple(columns), referenced)] = on_delete == 'c'
        rows = db("""
            SELECT t.tgenabled FROM pg_catalog.pg_trigger t
            JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
            JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
            WHERE s.nspname = %s AND c.relname = 'progress'
              AND t.tgname = %s
            """, (PG_SCHEMA, AUDIT_TRIGGERS['postgres']))
        trigger = 'missing' if not rows else \
            'disabled' if rows[0][0] == 'D' else 'enabled'
        return objects, keys, trigger, True

    def _sqlite_schema(self, db):
        """`(objects, keys, trigger state, foreign keys enforced)` of the
        `learning_*` tables."""
        prefix = 'learning_'
        rows = db("SELECT name, type FROM sqlite_master "
                  "WHERE type IN ('table', 'view', 'trigger')")
        objects = {name[len(prefix):] for name, kind in rows
                   if kind in ('table', 'view') and name.startswith(prefix)}
        keys = {}
        for table in TABLES:
            if table not in objects:
                continue
            found = {}
            for key_id, referenced, column, on_delete in db(
                    'SELECT id, "table", "from", on_delete '
                    'FROM pragma_foreign_key_list(%s) ORDER BY id, seq',
                    (prefix + table,)):
                entry = found.setdefault(key_id, [referenced, [], on_delete])
                entry[1].append(column)
            for referenced, columns, on_delete in found.values():
                if referenced.startswith(prefix):
                    referenced = referenced[len(prefix):]
                keys[(table, tuple(columns), referenced)] = \
                    on_delete == 'CASCADE'
        trigger = 'enabled' if (AUDIT_TRIGGERS['sqlite'], 'trigger') in \
            rows else 'missing'
        enforced = db("SELECT foreign_keys FROM pragma_foreign_keys")
        return objects, keys, trigger, bool(enforced and enforced[0][0])

    @staticmethod
    def _wrapped(detail):
        # Commands, paths and addresses stay whole, to be copied.
        return '\n'.join(textwrap.wrap(detail or '', DETAIL_WIDTH,
                                       break_long_words=False,
                                       break_on_hyphens=False)) or '-'
