"""`learning prereq add | remove | list`: the prerequisite links between a
learner's concepts, for admins."""

import re

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import print_table, printout
from trac.util.translation import _

from tracl.auth.profile import USERNAME_ATTRIBUTE, LearnerProfiles
from tracl.cache import LearningCache
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.prerequisites import (PrerequisiteError, add_prerequisite,
                                       every_link, learner_links,
                                       remove_prerequisite)
from tracl.model.progress import concept_statuses


#: A ticket number as an admin types it: `12` or `#12` (ticket ids are
#: 32-bit integers).
TICKET_NUMBER_RE = re.compile(r'#?([0-9]{1,9})')


def ticket_id(value):
    """The ticket number in `12` or `#12`."""
    match = TICKET_NUMBER_RE.fullmatch(value)
    if not match:
        raise AdminCommandError(_("%(value)s is not a ticket number (12 or "
                                  "#12).", value=value))
    return int(match.group(1))


def learner_sub(env, name):
    """The Cognito `sub` of the learner `name`: their Trac username (the
    sub itself) or their Cognito username, as their last sign-in left it
    in their session."""
    with env.db_query as db:
        if db("""SELECT 1 FROM ticket WHERE owner=%s AND type=%s""",
              (name, CONCEPT_TICKET_TYPE)) or \
                db("""SELECT 1 FROM session
                      WHERE sid=%s AND authenticated=1""", (name,)):
            return name
        subs = [sid for sid, in db("""
            SELECT sid FROM session_attribute
            WHERE authenticated=1 AND name=%s AND value=%s
            ORDER BY sid""", (USERNAME_ATTRIBUTE, name))]
    if not subs:
        raise AdminCommandError(_("No learner %(name)s: give their Cognito "
                                  "sub or username.", name=name))
    if len(subs) > 1:
        raise AdminCommandError(_("%(name)s is the username of several "
                                  "learners (%(subs)s): give a sub.",
                                  name=name, subs=', '.join(subs)))
    return subs[0]


class PrerequisiteAdminCommands(Component):
    """Link, unlink and list the prerequisites of learners' concepts."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning prereq add', '<concept> <prerequisite>',
               """Make <prerequisite> a prerequisite of <concept>

               Both are concept tickets (12 or #12) of the same learner,
               who studies <concept> once <prerequisite> is mastered. A
               concept is not its own prerequisite and links never form a
               cycle.""", None, self._add)
        yield ('learning prereq remove', '<concept> <prerequisite>',
               """Remove a prerequisite link (ticket numbers, 12 or #12)""",
               None, self._remove)
        yield ('learning prereq list', '[user|ticket]',
               """List prerequisite links

               Every learner's links, a learner's (Cognito sub or
               username), or one concept's (12 or #12): its prerequisites
               and what it unlocks, with the learner's status on each
               prerequisite.""",
               None, self._list)

    # Commands

    def _add(self, concept, prerequisite):
        concept_id, prerequisite_id = ticket_id(concept), \
            ticket_id(prerequisite)
        try:
            sub = add_prerequisite(self.env, concept_id, prerequisite_id)
        except PrerequisiteError as e:
            raise AdminCommandError(str(e))
        self._changed(sub)
        printout(_("#%(prerequisite)d is now a prerequisite of "
                   "#%(concept)d.", prerequisite=prerequisite_id,
                   concept=concept_id))

    def _remove(self, concept, prerequisite):
        concept_id, prerequisite_id = ticket_id(concept), \
            ticket_id(prerequisite)
        try:
            sub = remove_prerequisite(self.env, concept_id, prerequisite_id)
        except PrerequisiteError as e:
            raise AdminCommandError(str(e))
        self._changed(sub)
        printout(_("#%(prerequisite)d is no longer a prerequisite of "
                   "#%(concept)d.", prerequisite=prerequisite_id,
                   concept=concept_id))

    def _list(self, which=None):
        if which is None:
            links = every_link(self.env)
        elif TICKET_NUMBER_RE.fullmatch(which):
            links = self._concept_links(ticket_id(which))
        else:
            sub = learner_sub(self.env, which)
            links = [(sub,) + tuple(link)
                     for link in learner_links(self.env, sub)]
        statuses = concept_statuses(self.env, {link[3] for link in links})
        profiles = LearnerProfiles(self.env)
        print_table([(profiles.get(sub)['username'],
                      '#%d %s' % (concept_id, concept),
                      '#%d %s' % (prerequisite_id, prerequisite),
                      statuses.get(prerequisite_id, (None, None))[1])
                     for sub, concept_id, concept, prerequisite_id,
                     prerequisite in links],
                    [_("Learner"), _("Concept"), _("Prerequisite"),
                     _("Prerequisite status")])

    # Internal methods

    def _concept_links(self, concept_id):
        """The links of `concept_id`: to its prerequisites and from what
        it unlocks."""
        owner = concept_statuses(self.env, [concept_id]).get(concept_id)
        if owner is None:
            raise AdminCommandError(_("Ticket #%(id)d is not a learning "
                                      "concept.", id=concept_id))
        sub = owner[0]
        return [(sub,) + tuple(link) for link in learner_links(self.env, sub)
                if concept_id in (link[0], link[2])]

    def _changed(self, sub):
        # Graphs and summaries are cached under the learner's progress
        # version: a new version draws them again with the new links.
        if sub:
            LearningCache(self.env).bump_progress_version(sub)
