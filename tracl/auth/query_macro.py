"""`[[TicketQuery]]` that counts only the tickets the viewer may see.

Trac's macro answers `format=count` and `format=rawcount` with an SQL
`COUNT` of the query and no `TICKET_VIEW` check (every other format lists
tickets and checks each one). In TracLearn that count would tell a learner
how many concepts another learner holds, and let them probe a concept's
fields one constraint at a time (`owner=sub-alice&question~=...`).

This macro takes the place of Trac's (environment setup disables
`trac.ticket.query.TicketQueryMacro`): it behaves exactly as Trac's for
every format, and counts the matching tickets the viewer may see. Its
statements, like every ticket query's, read only the tickets the viewer
may see (`tracl.auth.concept_query`), so `max=` cuts a list of those.
"""

from trac.perm import PermissionCache
from trac.ticket.query import Query, QuerySyntaxError, TicketQueryMacro
from trac.util.html import tag
from trac.util.translation import ngettext
from trac.wiki.macros import MacroError

COUNT_FORMATS = ('count', 'rawcount')


class VisibleTicketQueryMacro(TicketQueryMacro):
    """Trac's `[[TicketQuery]]`, whose counts leave out the tickets the
    viewer may not see (another learner's concepts)."""

    # WikiMacroBase names a macro after its class: keep Trac's name.
    def get_macros(self):
        yield 'TicketQuery'

    def expand_macro(self, formatter, name, content):
        query_string, kwargs, format = self.parse_args(content)
        if format not in COUNT_FORMATS:
            return super().expand_macro(formatter, name, content)
        # As Trac's macro builds the query, for the title and the link.
        if query_string:
            query_string += '&'
        query_string += '&'.join('%s=%s' % (key, kwargs[key])
                                 for key in sorted(kwargs))
        try:
            query = Query.from_string(self.env, query_string)
        except QuerySyntaxError as e:
            raise MacroError(e) from e
        count = self.visible_count(query, formatter.req)
        title = ngettext("%(num)s ticket matching %(criteria)s",
                         "%(num)s tickets matching %(criteria)s", count,
                         criteria=query_string.replace('&', ', '))
        if format == 'rawcount':
            return tag.span(count, title=title, class_='query_count')
        return tag.a(count, href=query.get_href(formatter.context.href),
                     title=title)

    def visible_count(self, query, req):
        """How many tickets matching `query` the user of `req` may view
        (anonymous without a request, as in a notification)."""
        # The SQL reads only the tickets the viewer may see (ConceptQueries);
        # each is checked again, as Trac's lists check theirs.
        sql, args = query.get_sql(req, authname=None if req else 'anonymous')
        with self.env.db_query as db:
            ids = [row[0] for row in
                   db("SELECT id FROM (%s) AS x" % sql, args)]
        perm = req.perm if req is not None else \
            PermissionCache(self.env, 'anonymous')
        return sum(1 for ticket_id in ids
                   if 'TICKET_VIEW' in perm('ticket', ticket_id))
