"""`learning user forget` and `learning user export`: an administrator
acting on a learner's request for their learning data (what a learner may
do themselves from My learning or the API, `tracl.model.learner_data`)."""

import json
import sys

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import printout
from trac.util.translation import _

from tracl.auth.profile import USERNAME_ATTRIBUTE
from tracl.model import learner_data
from tracl.schema import sql


class LearnerDataAdminCommands(Component):
    """Export or delete one learner's learning data."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning user export', '<username|sub> [file.json]',
               """Write everything TracLearn keeps of a learner as JSON

               The same document the learner downloads from My learning:
               paths, concepts, attempts with grades and feedback, notes,
               time spent, disputes and review history. To standard output
               without a file.""", None, self._export)
        yield ('learning user forget', '<username|sub>',
               """Delete a learner's learning data, in one transaction

               Their paths, concept tickets, progress, attempts, notes,
               disputes, follow-ups, review cards and log, and cached
               views. Instructors' decisions on their answers are kept
               with the learner replaced by an anonymous marker. The
               Cognito account is not touched: remove it in Cognito.""",
               None, self._forget)

    # Commands

    def _export(self, *args):
        if len(args) not in (1, 2):
            raise AdminCommandError(_("Usage: learning user export "
                                      "<username|sub> [file.json]"),
                                    show_usage=True)
        sub = self.learner_sub(args[0])
        data = learner_data.export_learner_data(self.env, sub)
        text = json.dumps(data, ensure_ascii=False, indent=2) + '\n'
        if len(args) == 1:
            sys.stdout.write(text)
            return
        try:
            with open(args[1], 'w', encoding='utf-8') as f:
                f.write(text)
        except OSError as e:
            raise AdminCommandError(_("Cannot write %(path)s: %(error)s",
                                      path=args[1], error=e.strerror))
        printout(_("The learning data of %(user)s written to %(path)s.",
                   user=args[0], path=args[1]))

    def _forget(self, *args):
        if len(args) != 1:
            raise AdminCommandError(_("Usage: learning user forget "
                                      "<username|sub>"), show_usage=True)
        sub = self.learner_sub(args[0])
        deleted = learner_data.delete_learner_data(self.env, sub)
        self.log.info("An administrator deleted the learning data of %s: "
                      "%r", sub, deleted)
        printout(_("Deleted the learning data of %(user)s: %(concepts)d "
                   "concepts, %(paths)d paths, %(attempts)d attempts, "
                   "%(disputes)d disputes, %(cards)d review cards; "
                   "%(decisions)d instructors' decisions kept "
                   "anonymously. Their Cognito account is unchanged.",
                   user=args[0], concepts=deleted.concepts,
                   paths=deleted.paths, attempts=deleted.attempts,
                   disputes=deleted.disputes, cards=deleted.review_cards,
                   decisions=deleted.decisions_anonymised))

    # Public methods

    def learner_sub(self, user):
        """The `sub` of learner `user`: their Cognito username (as their
        session records it) or their `sub` itself. Raises
        `AdminCommandError` for nobody, or a username two subs share."""
        with self.env.db_query as db:
            subs = [r[0] for r in db("""
                SELECT sid FROM session_attribute
                WHERE authenticated=1 AND name=%s AND value=%s""",
                (USERNAME_ATTRIBUTE, user))]
            if len(subs) > 1:
                raise AdminCommandError(_(
                    "The username %(user)s names several learners: give "
                    "their sub instead.", user=user))
            if subs:
                return subs[0]
            known = db(sql(self.env, """
                SELECT 1 FROM session WHERE sid=%s AND authenticated=1
                UNION SELECT 1 FROM {paths} WHERE cognito_user_id=%s
                UNION SELECT 1 FROM {progress} WHERE cognito_user_id=%s
                UNION SELECT 1 FROM ticket WHERE owner=%s"""),
                (user, user, user, user))
        if not known:
            raise AdminCommandError(_("No learner is named %(user)s.",
                                      user=user))
        return user
