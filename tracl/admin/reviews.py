"""`learning reviews USER [--at ISO-DATE]` and `learning reviews due-now
TICKET`: what a learner should review at a moment, and an admin's "ask
again" for a mastered concept."""

from datetime import datetime, timezone

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import print_table, printout
from trac.util.translation import _

from tracl.admin.options import parse_options
from tracl.admin.prereqs import learner_sub, ticket_id
from tracl.clock import LearningClock
from tracl.study.loop import StudyLoop
from tracl.study.retention import Retention


def parse_moment(text):
    """The moment an admin names: an ISO 8601 date or time (UTC unless it
    says otherwise)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace('Z', '+00:00'))
    except ValueError:
        raise AdminCommandError(_("%(text)s is not an ISO 8601 date or "
                                  "time, such as 2026-12-31 or "
                                  "2026-12-31T09:00:00Z.", text=text))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


class ReviewAdminCommands(Component):
    """List learners' due reviews; make a mastered concept due now."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        # Trac runs the first command whose words begin the line: the
        # longer name comes first.
        yield ('learning reviews due-now', '<ticket>',
               """Make a mastered concept due for review now

               The learner is asked its question again at their next
               review (12 or #12). A concept never mastered, or being
               learnt again after a lapse, is refused.""",
               None, self._due_now)
        yield ('learning reviews', '<user> [--at ISO-DATE]',
               """List what a learner should review

               The learner's concepts due now, or at the moment --at
               names (an ISO 8601 date or time, UTC unless it says
               otherwise), the most overdue first, with how likely the
               learner recalls each one then. <user> is their Cognito sub
               or username.""", None, self._list)

    # Commands

    def _list(self, *args):
        positional, options = parse_options(args, ('at',))
        if len(positional) != 1:
            raise AdminCommandError(_("Usage: learning reviews <user> "
                                      "[--at ISO-DATE]"), show_usage=True)
        sub = learner_sub(self.env, positional[0])
        clock = LearningClock(self.env)
        if options.get('at'):
            clock.set(parse_moment(options['at'][-1]))
        try:
            now = clock.now()
            due = Retention(self.env).due(sub, now)
        finally:
            clock.set(None)
        if not due:
            printout(_("Nothing is due at %(at)s.",
                       at=now.strftime('%Y-%m-%d %H:%M UTC')))
            return
        print_table([('#%d' % item['ticket_id'], item['concept'],
                      item['subject'], item['due'], item['state'],
                      '%d%%' % round(item['retrievability'] * 100))
                     for item in due],
                    [_("Ticket"), _("Concept"), _("Subject"), _("Due"),
                     _("State"), _("Recall now")])

    def _due_now(self, ticket):
        concept_id = ticket_id(ticket)
        sub = Retention(self.env).make_due(concept_id)
        if sub is None:
            raise AdminCommandError(_(
                "#%(id)d is not a mastered concept: only a mastered concept "
                "comes back for review (one never mastered, or being learnt "
                "again after a lapse, is studied as it is).", id=concept_id))
        StudyLoop(self.env).progress_changed(sub, concept_id,
                                             status_changed=True)
        printout(_("#%(id)d is due for review now.", id=concept_id))
