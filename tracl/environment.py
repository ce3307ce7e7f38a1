"""Environment creation and upgrade: the learning schema, the
`learning_concept` ticket type, the learning custom fields and the default
permissions (`tracl.auth.default_permissions`: learners read the wiki and
comment on tickets, admins and instructors edit).

Trac's own tables keep their columns and keys; Trac's `[ticket-workflow]` is
left alone (it is global to every ticket type). Settings an admin already
has in trac.ini are never overwritten, nor permissions an admin granted:
Trac's stock write grants to signed-in users are revoked only while they
are still Trac's untouched set, and what was revoked is printed with the
commands that restore it.
"""

from trac.core import Component, implements
from trac.db.api import DatabaseManager
from trac.env import IEnvironmentSetupParticipant
from trac.ticket.model import Type
from trac.util.text import printout
from trac.util.translation import _

from tracl.auth import default_permissions
from tracl.schema import SCHEMA_VERSION, SCHEMA_VERSION_NAME

#: The ticket type of a concept a learner studies.
CONCEPT_TICKET_TYPE = 'learning_concept'

#: The custom fields of a concept ticket: `ticket_custom` holds question,
#: question_difficulty and question_context under these names, which
#: reports and tools outside TracLearn read, so they stay. The expected answer
#: is kept out of them on purpose: custom fields show in forms, queries and
#: CSV exports.
CUSTOM_FIELDS = (
    ('question', 'textarea'),
    ('question.label', 'Question'),
    ('question.format', 'plain'),
    ('question.rows', '3'),
    ('question.order', '1'),
    ('question_difficulty', 'select'),
    ('question_difficulty.label', 'Question difficulty'),
    ('question_difficulty.options', '|1|2|3|4|5'),
    ('question_difficulty.value', ''),
    ('question_difficulty.order', '2'),
    ('question_context', 'text'),
    ('question_context.label', 'Learning query'),
    ('question_context.format', 'plain'),
    ('question_context.order', '3'),
)


#: The permission policy that hides a learner's concepts from others; it
#: must come first in `[trac] permission_policies`.
CONCEPT_POLICY = 'ConceptOwnerPolicy'

#: TracLearn signs people in with Cognito in place of Trac's LoginModule.
TRAC_LOGIN_MODULE = 'trac.web.auth.loginmodule'

#: TracLearn's `[[TicketQuery]]` (tracl.auth.query_macro) counts only the
#: tickets a viewer may see, in place of Trac's.
TRAC_TICKET_QUERY_MACRO = 'trac.ticket.query.ticketquerymacro'

#: The progress bars of the roadmap and of a milestone count a learner's
#: concepts as mastered, studying and not started.
LEARNING_STATS_PROVIDER = 'LearningGroupStatsProvider'

#: Trac's own provider, which `trac-admin initenv` writes to trac.ini.
TRAC_STATS_PROVIDER = 'DefaultTicketGroupStatsProvider'

#: The sections whose `stats_provider` chooses the roadmap's and the
#: milestone page's provider.
STATS_PROVIDER_SECTIONS = ('roadmap', 'milestone')


class LearningEnvironmentSetup(Component):
    """Creates and upgrades what TracLearn keeps in a Trac environment."""

    implements(IEnvironmentSetupParticipant)

    # IEnvironmentSetupParticipant methods

    def environment_created(self):
        # A new environment: its stock grants were never anyone's choice,
        # so what the defaults change goes to the log, not to the screen.
        self._set_up(created=True)

    def environment_needs_upgrade(self):
        dbm = DatabaseManager(self.env)
        return dbm.needs_upgrade(SCHEMA_VERSION, SCHEMA_VERSION_NAME) or \
            bool(self._missing_custom_fields()) or \
            not self._has_concept_type() or bool(self._auth_settings()) or \
            bool(self._stats_settings(installing=False)) or \
            default_permissions.needs_upgrade(self.env)

    def upgrade_environment(self):
        self._set_up(created=False)

    # Internal methods

    def _set_up(self, created):
        dbm = DatabaseManager(self.env)
        installing = not dbm.get_database_version(SCHEMA_VERSION_NAME)
        if dbm.needs_upgrade(SCHEMA_VERSION, SCHEMA_VERSION_NAME):
            dbm.upgrade(SCHEMA_VERSION, SCHEMA_VERSION_NAME,
                        'tracl.upgrades')
        if not self._has_concept_type():
            concept_type = Type(self.env)
            concept_type.name = CONCEPT_TICKET_TYPE
            concept_type.insert()
            self.log.info("Added the ticket type %s", CONCEPT_TICKET_TYPE)
        missing = self._missing_custom_fields()
        for name, value in missing:
            self.config.set('ticket-custom', name, value)
        if missing:
            self.log.info("Added the learning custom fields: %s",
                          ', '.join(name for name, _ in missing))
        settings = self._auth_settings() + self._stats_settings(installing)
        for section, name, value in settings:
            self.config.set(section, name, value)
            self.log.info("Set [%s] %s = %s", section, name, value)
        if missing or settings:
            self.config.save()
        # After the schema: its upgrades grant the LEARNING_* actions.
        outcome = default_permissions.apply_defaults(self.env)
        self._report_permissions(outcome, printed=not created)

    def _report_permissions(self, outcome, printed):
        """Tell the admin running `trac-admin upgrade` what the default
        permissions changed and how to undo it (`printed`; always in the
        log), and warn about write grants to everyone they left in place."""
        if outcome.revoked:
            self.log.info("Revoked Trac's stock write permissions: %s",
                          _listed(outcome.revoked))
        if outcome.revoked and printed:
            printout(_("TracLearn revoked Trac's stock write permissions "
                       "from signed-in users (learners only read the "
                       "wiki and comment on tickets): %(grants)s. To give "
                       "them back:", grants=_listed(outcome.revoked)))
            for command in default_permissions.permission_commands(
                    self.env, 'add', outcome.revoked):
                printout('  ' + command)
        if outcome.granted:
            self.log.info("Granted the learning groups' permissions: %s",
                          _listed(outcome.granted))
        if outcome.kept:
            # Not Trac's untouched stock set: an admin chose these.
            self.log.warning(
                "Left write permissions granted to everyone, which let "
                "every learner edit the wiki or tickets: %s. To revoke "
                "them: %s", _listed(outcome.kept),
                '; '.join(default_permissions.permission_commands(
                    self.env, 'remove', outcome.kept)))
            printout(_("TracLearn left these write permissions, granted "
                       "by an admin, to everyone: %(grants)s. To revoke "
                       "them:", grants=_listed(outcome.kept)))
            for command in default_permissions.permission_commands(
                    self.env, 'remove', outcome.kept):
                printout('  ' + command)

    def _has_concept_type(self):
        return any(t.name == CONCEPT_TICKET_TYPE for t in Type.select(self.env))

    def _auth_settings(self):
        """The `(section, name, value)` settings Cognito sign-in and the
        concept policy still need: Trac's LoginModule and TicketQuery macro
        off (TracLearn replaces both; unless an admin decided otherwise)
        and the policy first in line."""
        settings = []
        for replaced in (TRAC_LOGIN_MODULE, TRAC_TICKET_QUERY_MACRO):
            if replaced not in self.config['components']:
                settings.append(('components', replaced, 'disabled'))
        policies = self.config.getlist('trac', 'permission_policies')
        if CONCEPT_POLICY not in policies:
            settings.append(('trac', 'permission_policies',
                             ', '.join([CONCEPT_POLICY] + policies)))
        return settings

    def _stats_settings(self, installing):
        """The `(section, name, value)` settings that make the roadmap and
        the milestone page count learning progress: a `stats_provider` not
        set in trac.ini, and, when TracLearn is being installed, one still
        naming Trac's default (`initenv` writes every default to trac.ini,
        so it is no admin's choice yet). Afterwards an admin's choice,
        Trac's default too, stands."""
        settings = []
        for section in STATS_PROVIDER_SECTIONS:
            chosen = self.config[section].contains('stats_provider',
                                                   defaults=False)
            if not chosen or installing and self.config.get(
                    section, 'stats_provider') == TRAC_STATS_PROVIDER:
                settings.append((section, 'stats_provider',
                                 LEARNING_STATS_PROVIDER))
        return settings

    def _missing_custom_fields(self):
        section = self.config['ticket-custom']
        return [(name, value) for name, value in CUSTOM_FIELDS
                if name not in section]


def _listed(grants):
    return ', '.join('%s %s' % grant for grant in grants)
