"""`learning decisions export` and `learning calibrate`: learning from the
instructors. Their decisions become marked answers; marked answers refit
the offline grader's calibration, kept versioned in the database."""

import csv
import hashlib
import io
import sys

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import printout
from trac.util.translation import _

from tracl.admin.intelligence import IntelligenceAdminCommands
from tracl.llm import MASTERY_THRESHOLD, LearningLLM, LLMUnavailable
from tracl.llm import calibration as calibrations
from tracl.llm.metrics import balanced_accuracy, bias
from tracl.llm.offline import OfflineLLMProvider
from tracl.llm.offline_grader import CALIBRATION, OfflineGrader
from tracl.schema import sql

#: The columns `decisions export` writes: what `grade-eval` and
#: `calibrate` read.
EXPORT_COLUMNS = ('chunk_id', 'question', 'reference_answer',
                  'student_answer', 'score01', 'kind', 'decided_by',
                  'comment')

#: Every this-many question is held out of the fit to measure it.
HOLD_OUT_EVERY = 5


class CalibrationAdminCommands(Component):
    """Export instructors' decisions; refit and roll back the offline
    grader's calibration."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning decisions export', '[file.csv]',
               """Write the instructors' decisions as marked answers (a
               grade-eval CSV: the question, its expected answer, the
               learner's answer and the instructor's score), to standard
               output without a file""",
               None, self._export)
        yield ('learning calibrate', '<file.csv> | --rollback',
               """Refit the offline grader's calibration on marked answers

               The CSV is a grade-eval file (rows naming a chunk_id, or a
               question and reference_answer). Answers to every fifth
               question are held out: the agreement of the mastery
               decision on them is printed before and after. Refuses fewer
               than 50 rows or marks of one class. The new calibration is
               kept in the database and grades from now on (the grader
               version names it; past grades keep theirs); --rollback
               restores the one before.""",
               None, self._calibrate)

    # Commands

    def _export(self, *args):
        if len(args) > 1:
            raise AdminCommandError(_("Usage: learning decisions export "
                                      "[file.csv]"), show_usage=True)
        rows = self.env.db_query(sql(self.env, """
            SELECT q.chunk_id, q.question, q.expected_answer, a.answer,
                   d.new_score, d.kind, d.decided_by, d.comment
            FROM {decisions} d
            JOIN {attempts} a ON a.cognito_user_id = d.cognito_user_id
                AND a.ticket_id = d.ticket_id AND a.attempt = d.attempt
            LEFT JOIN {questions} q ON q.id = a.question_id
            ORDER BY d.created_at, d.id"""))
        rows = [r for r in rows if r[1] is not None]
        if not rows:
            printout(_("No instructor has decided a grade with a stored "
                       "question yet: nothing to export."))
            return
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([row[0], row[1], row[2], row[3],
                             '%g' % float(row[4])] + list(row[5:]))
        if args:
            try:
                with open(args[0], 'w', newline='',
                          encoding='utf-8') as f:
                    f.write(out.getvalue())
            except OSError as e:
                raise AdminCommandError(_("Cannot write %(path)s: "
                                          "%(error)s", path=args[0],
                                          error=e.strerror))
            printout(_("%(n)d decided answers written to %(path)s.",
                       n=len(rows), path=args[0]))
        else:
            sys.stdout.write(out.getvalue())

    def _calibrate(self, *args):
        if args == ('--rollback',):
            return self._roll_back()
        if len(args) != 1 or args[0].startswith('--'):
            raise AdminCommandError(_("Usage: learning calibrate "
                                      "<file.csv> | --rollback"),
                                    show_usage=True)
        path = args[0]
        commands = IntelligenceAdminCommands(self.env)
        rows, _columns = commands.read_marked_answers(path)
        provider = OfflineLLMProvider(self.env)
        grader = provider.grader
        analysed, questions = [], {}
        for number, row in enumerate(rows, 1):
            asked = commands.asked_question(row, questions)
            if isinstance(asked, str):
                printout(_("row %(n)d: %(problem)s", n=number,
                           problem=asked))
                continue
            question, expected, rubric, _content = asked
            try:
                features, _evidence, _errors = grader.analyse(
                    question, expected, row['student_answer'], rubric)
            except LLMUnavailable as e:
                raise AdminCommandError(_("The grader stopped at row "
                                          "%(n)d: %(error)s", n=number,
                                          error=e))
            analysed.append((question, features, grader.probability(features),
                             1 if row['mark'] >= 0.5 else 0))
        labels = [a[3] for a in analysed]
        if len(analysed) < calibrations.MIN_ROWS:
            raise AdminCommandError(_(
                "A calibration needs at least %(min)d marked answers; "
                "%(path)s has %(n)d that can be graded.",
                min=calibrations.MIN_ROWS, path=path, n=len(analysed)))
        if len(set(labels)) < 2:
            raise AdminCommandError(_(
                "Every answer in %(path)s has the same mark: a calibration "
                "needs answers marked right and wrong.", path=path))
        fit = [a for a in analysed if not _held_out(a[0])]
        held = [a for a in analysed if _held_out(a[0])]
        if len(set(a[3] for a in fit)) < 2 or not held:
            raise AdminCommandError(_(
                "The answers are to too few questions to hold some out: "
                "write rows for at least %(n)d questions.",
                n=HOLD_OUT_EVERY))
        current = calibrations.active_calibration(self.env)
        before_calibration = current.calibration if current else CALIBRATION
        new = calibrations.fit_calibration([a[1] for a in fit],
                                           [a[2] for a in fit],
                                           [a[3] for a in fit])
        before = _agreement(held, before_calibration)
        after = _agreement(held, new)
        stored = calibrations.store_calibration(
            self.env, new, len(fit), len(held), before['agreement'],
            after['agreement'], _source(path), 'trac-admin')
        printout(_("Fitted on %(fit)d answers; %(held)d answers to every "
                   "%(every)dth question held out.", fit=len(fit),
                   held=len(held), every=HOLD_OUT_EVERY))
        printout(_("On the held-out answers:"))
        for name in ('agreement', 'balanced_accuracy', 'bias'):
            printout('  %-18s before %7.4f   after %7.4f' % (
                name, before[name], after[name]))
        printout(_("Calibration %(id)d is active (decision probability "
                   "%(decision).4f): the grader is now %(version)s. "
                   "'learning calibrate --rollback' restores the one "
                   "before.", id=stored, decision=new.decision,
                   version=LearningLLM(self.env).provider.describe()))

    def _roll_back(self):
        try:
            now = calibrations.roll_back(self.env)
        except LookupError:
            raise AdminCommandError(_("No calibration was fitted: the "
                                      "grader uses its built-in one."))
        if now is None:
            printout(_("Rolled back: the grader uses its built-in "
                       "calibration again."))
        else:
            printout(_("Rolled back: calibration %(id)d grades again.",
                       id=now.id))


def _held_out(question):
    """Whether answers to `question` are held out of the fit: every
    `HOLD_OUT_EVERY`th question by a stable hash, so a question's answers
    are all on one side."""
    digest = hashlib.sha256(question.encode('utf-8')).digest()
    return digest[0] % HOLD_OUT_EVERY == 0


def _agreement(analysed, calibration):
    scores = [OfflineGrader.score(features, p, calibration)
              for _q, features, p, _label in analysed]
    marks = [label for _q, _f, _p, label in analysed]
    return {
        'agreement': sum((s >= MASTERY_THRESHOLD) == bool(m)
                         for s, m in zip(scores, marks)) / float(len(marks)),
        'balanced_accuracy': balanced_accuracy(scores, marks,
                                               MASTERY_THRESHOLD),
        'bias': bias(scores, marks)}


def _source(path):
    return str(path)[-200:]
