"""Ticket queries and reports that read only the concepts their viewer may
see, so that their pages, counts and page links are right.

Trac checks `TICKET_VIEW` ticket by ticket *after* its SQL has cut a page
(`LIMIT`/`OFFSET`) and counted the matches. `ConceptOwnerPolicy` alone then
leaves a learner's query or report with pages emptied by other learners'
concepts, while her own sit on a page she is never offered, and with counts
that tell how many concepts the others hold.

Trac has no extension point to add a constraint to a query or a report, so
this component restricts the table they read instead. For a viewer without
LEARNING_ADMIN, the statement Trac runs for a query (`Query.get_sql`: the
query page, its CSV, TSV and RSS exports, the `[[TicketQuery]]` macro in
every format, and their counts) and for a report (`ReportModule.
execute_paginated_report`: the report page, its count, its exports) starts
with a common table expression named `ticket`:

    WITH ticket AS (SELECT * FROM main.ticket
                    WHERE COALESCE(type, '') <> %s OR owner = %s)

For the rest of that statement `ticket` is the viewer's part of the table:
every join, subquery, `COUNT(*)` and `LIMIT` on `ticket` that Trac or a
report's author writes sees only the tickets the viewer may see. That holds
for the table `ticket` only. Other tables a report reads directly
(`ticket_change`, `ticket_custom`, `attachment`, TracLearn's learning
tables and views) are not restricted: their rows of hidden concepts count
in the report's total and its pages unless the report joins them to
`ticket`. Of such rows, Trac's check of each row still drops those whose
`ticket` (or `id`) column names a concept the viewer may not see; a row
without such a column (an aggregate, say) is shown as the SQL gives it.
The real table is named with its schema (`main` on SQLite; on PostgreSQL
the schema in which an unqualified `ticket` is found), as an unqualified
`ticket` inside the expression would be the expression itself. A report
that starts with its own `WITH` gets the expression as its first.
The values are parameters: the query's own, and in a report two `$`
variables of Trac's report syntax that this component sets (a request
cannot).

Anonymous viewers read no concept at all; LEARNING_ADMIN reads every
ticket (no expression): the rule `ConceptOwnerPolicy` follows too
(`owns_no_concept`, `sees_every_concept`). A statement that names no viewer (neither a
request nor a user name: TracLearn's own code, a notification) is left as
Trac writes it.

The two Trac methods are wrapped once per process when this module is
loaded, and the wrappers act only in environments where this component is
enabled. `ConceptOwnerPolicy` still decides each ticket (its page, the
timeline, search, the roadmap) and still drops any row a list would show
that the viewer may not see.
"""

import functools
import re
import threading

from trac.core import Component
from trac.perm import PermissionCache
from trac.ticket.query import Query
from trac.ticket.report import ReportModule

from tracl.auth.permissions import owns_no_concept, sees_every_concept
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.schema import dialect

#: The report variables that carry the expression's values: upper case,
#: as Trac's `$NAME` syntax wants; set here after the request's.
REPORT_VARIABLES = ('TRACL_CONCEPT_TYPE', 'TRACL_VIEWER')

#: A report that starts with its own common table expressions.
_LEADING_WITH_RE = re.compile(
    r'\A(?:\s+|--[^\n]*|/\*.*?\*/)*WITH\b(?:\s+RECURSIVE\b)?',
    re.IGNORECASE | re.DOTALL)

class ConceptQueries(Component):
    """Restricts a viewer's ticket queries and reports to the tickets the
    viewer may see, in the SQL, so pages and counts are right."""

    def __init__(self):
        self._table = None
        self._lock = threading.Lock()

    # Public methods

    def ticket_expression(self, req=None, authname=None,
                          markers=('%s', '%s')):
        """`(sql, values)` of the `ticket AS (...)` expression for the
        viewer of `req` (else user `authname`), the places of the values in
        `sql` written `markers`; `None` when the statement needs none (a
        LEARNING_ADMIN holder, or no viewer named)."""
        if req is not None:
            authname, perm = req.authname, req.perm
        elif authname is not None:
            perm = PermissionCache(self.env, authname)
        else:
            return None
        if sees_every_concept(perm):
            return None
        where = "COALESCE(type,'') <> %s" % markers[0]
        values = [CONCEPT_TICKET_TYPE]
        if not owns_no_concept(authname):
            where += " OR owner = %s" % markers[1]
            values.append(authname)
        sql = "ticket AS (SELECT * FROM %s WHERE %s)" % (
            self._real_ticket_table(), where)
        return sql, values

    def restrict_query(self, sql, args, req=None, authname=None):
        """Query `sql` with `args` (`Query.get_sql`'s), as the viewer may
        read it."""
        expression = self.ticket_expression(req, authname)
        if expression is None:
            return sql, args
        cte, values = expression
        return with_expression(sql, cte), values + list(args)

    def run_report(self, execute, req, id, sql, args, limit, offset):
        """Run report `sql` through Trac's `execute` as the viewer of `req`
        may read it (see `ReportModule.execute_paginated_report`)."""
        if id == ReportModule.REPORT_LIST_ID:
            return execute(req, id, sql, args, limit, offset)
        expression = self.ticket_expression(
            req, markers=['$' + name for name in REPORT_VARIABLES])
        if expression is None:
            return execute(req, id, sql, args, limit, offset)
        cte, values = expression
        variables = dict(args)
        for name, value in zip(REPORT_VARIABLES, values):
            # Trac reads a value starting with '$' as the name of another
            # variable, and one starting with '$$' as a plain '$...'.
            variables[name] = '$' + value if value.startswith('$') \
                else value
        result = execute(req, id, with_expression(sql, cte), variables,
                         limit, offset)
        # Trac edits the report's arguments as it runs: it drops those the
        # SQL does not use and adds each it uses but the request left unset
        # (as ''); the page's links carry them and its form draws a box for
        # each. Hand that back to `args`, without this component's.
        args.clear()
        args.update((name, value) for name, value in variables.items()
                    if name not in REPORT_VARIABLES)
        return result

    # Internal methods

    def _real_ticket_table(self):
        """Trac's `ticket` table named with its schema, read once for the
        environment (its search path is fixed by its database URI)."""
        with self._lock:
            if self._table is None:
                if dialect(self.env) == 'postgres':
                    # The schema in which an unqualified `ticket` is found,
                    # not `current_schema()`: the first schema of the search
                    # path that exists may hold no `ticket`.
                    with self.env.db_query as db:
                        schema = db("""
                            SELECT n.nspname FROM pg_class c
                              JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE c.oid = 'ticket'::regclass""")[0][0]
                        self._table = '%s.ticket' % db.quote(schema)
                else:
                    self._table = 'main.ticket'
            return self._table


def with_expression(sql, cte):
    """`sql` with common table expression `cte` first."""
    match = _LEADING_WITH_RE.match(sql)
    if match:
        return '%s %s,%s' % (sql[:match.end()], cte, sql[match.end():])
    return 'WITH %s\n%s' % (cte, sql)


def _queries(env):
    """The environment's ConceptQueries, `None` where it is disabled."""
    return env[ConceptQueries]


def _wrap_get_sql(get_sql):
    @functools.wraps(get_sql)
    def restricted_get_sql(self, req=None, cached_ids=None, authname=None):
        sql, args = get_sql(self, req, cached_ids, authname)
        queries = _queries(self.env)
        if queries is None:
            return sql, args
        return queries.restrict_query(sql, args, req, authname)
    restricted_get_sql.tracl_concept_restriction = True
    return restricted_get_sql


def _wrap_execute_report(execute):
    @functools.wraps(execute)
    def restricted_execute(self, req, id, sql, args, limit=0, offset=0):
        queries = _queries(self.env)
        run = functools.partial(execute, self)
        if queries is None:
            return run(req, id, sql, args, limit, offset)
        return queries.run_report(run, req, id, sql, args, limit, offset)
    restricted_execute.tracl_concept_restriction = True
    return restricted_execute


def _install():
    """Wrap Trac's two methods, once however often this module loads."""
    if not getattr(Query.get_sql, 'tracl_concept_restriction', False):
        Query.get_sql = _wrap_get_sql(Query.get_sql)
    execute = ReportModule.execute_paginated_report
    if not getattr(execute, 'tracl_concept_restriction', False):
        ReportModule.execute_paginated_report = _wrap_execute_report(execute)


_install()
