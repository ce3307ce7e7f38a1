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

A mastered concept due for review (its learner's review card is due at
`LearningClock`'s now) is counted in an interval of its own, "Mastered,
due for review", beside the other mastered ones: both are done, so the
bar's completion is unchanged, and the legend says how many wait for a
review. The interval shows only when there are some; its link lists them
by id, and the "Mastered" link leaves them out.
"""

from collections import Counter, defaultdict

from trac.core import Component, implements
from trac.ticket.api import TicketSystem
from trac.ticket.roadmap import (DefaultTicketGroupStatsProvider,
                                 ITicketGroupStatsProvider, TicketGroupStats)
from trac.util.translation import _
from trac.web.api import IRequestFilter
from trac.web.chrome import add_stylesheet

from tracl.clock import LearningClock
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.progress import concept_statuses
from tracl.model.reviews import cards

#: The pages whose progress bars may show learning progress.
PROGRESS_TEMPLATES = ('roadmap.html', 'milestone_view.html')

#: The colours of the learning intervals (htdocs/css/roadmap.css).
CSS_CLASSES = {'mastered': 'tracl-mastered', 'studying': 'tracl-studying',
               'not_started': 'tracl-not-started',
               # Green like the mastered ones, marked for a style of its own.
               'due': 'tracl-mastered tracl-due'}


def due_concepts(env, statuses, now):
    """The ids of the mastered concepts among `statuses` (`{ticket_id:
    (owner, status)}`) whose owner's review card is due at `now`."""
    mastered = defaultdict(list)
    for ticket_id, (owner, status) in statuses.items():
        if status == 'mastered':
            mastered[owner].append(ticket_id)
    due = set()
    for owner, ticket_ids in mastered.items():
        due.update(ticket_id for ticket_id, card in
                   cards(env, owner, ticket_ids).items() if card.due <= now)
    return due


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
        due = due_concepts(self.env, statuses,
                           LearningClock(self.env).now())
        counts['mastered'] -= len(due)
        counts['due'] = len(due)
        stat = TicketGroupStats(_("learning progress"),
                                _("tickets") if others else _("concepts"))
        for status, title, ticket_statuses in self._concept_intervals():
            qry_args = {'type': [CONCEPT_TICKET_TYPE],
                        'status': ticket_statuses}
            if status == 'mastered' and due:
                qry_args['id'] = '!' + ','.join(map(str, sorted(due)))
            elif status == 'due':
                if not due:
                    continue
                qry_args['id'] = ','.join(map(str, sorted(due)))
            stat.add_interval(title, counts[status], qry_args,
                              CSS_CLASSES[status],
                              status in ('mastered', 'due'))
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
        mastered, reopened after a lapse), so a query on the ticket statuses lists the concepts
        counted; a concept moved by hand through Trac's workflow is
        counted by its progress but listed by its status."""
        studying = sorted(set(TicketSystem(self.env).get_all_status()) -
                          {'new', 'closed'})
        return [('mastered', _("Mastered"), ['closed']),
                ('due', _("Mastered, due for review"), ['closed']),
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
