"""Learning progress on Trac's roadmap and milestone pages.

A subject is a milestone; its concept tickets are counted as their
learner's progress (mastered, studying, not started), every other ticket
as Trac counts it (closed, active, or the admin's `[milestone-groups]`).

Which concepts a viewer's bars count is Trac's business, not ours: the
roadmap and the milestone page keep only the tickets the viewer has
TICKET_VIEW on (`apply_ticket_permissions`) before they ask for
statistics, and `ConceptOwnerPolicy` denies that on another learner's
concept. So a learner's bars count their own concepts, an admin's
everyone's.
"""

from collections import Counter

from trac.core import Component, implements
from trac.ticket.api import TicketSystem
from trac.ticket.roadmap import (DefaultTicketGroupStatsProvider,
                                 ITicketGroupStatsProvider, TicketGroupStats)
from trac.util.translation import _
from trac.web.api import IRequestFilter
from trac.web.chrome import add_stylesheet

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.progress import concept_statuses

#: The pages whose progress bars may show learning progress.
PROGRESS_TEMPLATES = ('roadmap.html', 'milestone_view.html')

#: The colours of the learning intervals (htdocs/css/roadmap.css).
CSS_CLASSES = {'mastered': 'tracl-mastered', 'studying': 'tracl-studying',
               'not_started': 'tracl-not-started'}


class LearningGroupStatsProvider(Component):
    """Counts concept tickets by their learner's progress: mastered (the
    completed part of the bar), studying and not started. Other tickets
    keep Trac's intervals, so a milestone with both shows both.

    Choose it in `[roadmap] stats_provider` and `[milestone]
    stats_provider` (TracLearn's setup does, unless an admin chose
    another provider)."""

    implements(ITicketGroupStatsProvider)

    # ITicketGroupStatsProvider methods

    def get_ticket_group_stats(self, ticket_ids):
        trac_stats = DefaultTicketGroupStatsProvider(self.env)
        statuses = concept_statuses(self.env, ticket_ids)
        if not statuses:
            return trac_stats.get_ticket_group_stats(ticket_ids)
        others = [tid for tid in ticket_ids if tid not in statuses]
        counts = Counter(status for _owner, status in statuses.values())
        stat = TicketGroupStats(_("learning progress"),
                                _("tickets") if others else _("concepts"))
        for status, title, ticket_statuses in self._concept_intervals():
            stat.add_interval(title, counts[status],
                              {'type': [CONCEPT_TICKET_TYPE],
                               'status': ticket_statuses},
                              CSS_CLASSES[status], status == 'mastered')
        if others:
            # The other tickets' query links must not list concepts too.
            for interval in trac_stats.get_ticket_group_stats(others) \
                                      .intervals:
                qry_args = dict(interval['qry_args'],
                                type=['!' + CONCEPT_TICKET_TYPE])
                stat.add_interval(interval['title'], interval['count'],
                                  qry_args, interval['css_class'],
                                  interval['overall_completion'])
        stat.refresh_calcs()
        return stat

    # Internal methods

    def _concept_intervals(self):
        """`(progress status, title, ticket statuses)` of the learning
        intervals. The study loop moves a concept ticket with its
        progress (new -> assigned on the first answer, closed when
        mastered), so a query on the ticket statuses lists the concepts
        counted; a concept moved by hand through Trac's workflow is
        counted by its progress but listed by its status."""
        studying = sorted(set(TicketSystem(self.env).get_all_status()) -
                          {'new', 'closed'})
        return [('mastered', _("Mastered"), ['closed']),
                ('studying', _("Studying"), studying),
                ('not_started', _("Not started"), ['new'])]


class LearningProgressStyle(Component):
    """Adds the colours of the learning intervals to the roadmap and
    milestone pages."""

    implements(IRequestFilter)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        return handler

    def post_process_request(self, req, template, data, metadata):
        if template in PROGRESS_TEMPLATES:
            add_stylesheet(req, 'tracl/css/roadmap.css')
        return template, data, metadata
