"""`learning ask`, `learning question` and `learning grade-eval`: what the
configured LLM provider writes and how well it grades."""

import csv
import json
import math
import sys
import time

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import printout
from trac.util.translation import _

from tracl.admin.options import parse_options
from tracl.corpus import load_starter_corpus, read_jsonl
from tracl.llm import MASTERY_THRESHOLD, LearningLLM, LLMUnavailable
from tracl.llm.metrics import agreement

#: Columns `grade-eval` needs.
GRADE_EVAL_COLUMNS = ('question', 'reference_answer', 'student_answer',
                      'score01')


class IntelligenceAdminCommands(Component):
    """See and measure what the LLM provider produces."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning ask', '<query>',
               """Print the five academic sentences the provider writes for
               a learner's query (the search embeds their average)""",
               None, self._ask)
        yield ('learning question', '<chunk_id> [--corpus <file.jsonl>] '
               '[--difficulty <1-5>] [--query <query>]',
               """Print the question, expected answer and rubric (key
               points, misconceptions) the provider writes for a chunk (of
               the starter corpus by default)""",
               None, self._question)
        yield ('learning grade-eval', '<file.csv> [--json]',
               """Grade marked answers and print how the grades agree

               The CSV needs the columns question, reference_answer,
               student_answer and score01 (the human mark, 0..1). Prints n,
               Pearson, Spearman, RMSE, the accuracy of the mastery decision
               (score >= 0.8) and, when the marks are 0 or 1, the AUC. With
               --json the last line is those figures as JSON.""",
               None, self._grade_eval)

    # Commands

    def _ask(self, query):
        for number, sentence in enumerate(self._provider_call(
                'academic_sentences', query), 1):
            printout('%d. %s' % (number, sentence))

    def _question(self, *args):
        positional, options = parse_options(args, ('corpus', 'difficulty',
                                                   'query'))
        if len(positional) != 1:
            raise AdminCommandError(_("Usage: learning question <chunk_id> "
                                      "[--corpus <file.jsonl>]"),
                                    show_usage=True)
        chunk = self._find_chunk(positional[0],
                                 options.get('corpus', [None])[-1])
        difficulty = options.get('difficulty',
                                 [chunk.get('difficulty_level') or 3])[-1]
        try:
            difficulty = int(difficulty)
        except ValueError:
            raise AdminCommandError(_("The difficulty is a number 1-5."))
        query = options.get('query', ['I want to understand %s'
                                      % chunk['subject']])[-1]
        generated = self._provider_call('generate_question',
                                        chunk['concept'], chunk['content'],
                                        difficulty, query)
        printout(_("Concept: %(concept)s (%(subject)s)",
                   concept=chunk['concept'], subject=chunk['subject']))
        printout(_("Difficulty: %(d)d", d=generated.difficulty))
        printout(_("Question: %(q)s", q=generated.question))
        printout(_("Expected answer: %(a)s", a=generated.expected_answer))
        for number, point in enumerate(generated.key_points, 1):
            printout(_("Key point %(n)d (sentences %(sources)s): %(point)s",
                       n=number, point=point.point,
                       sources=', '.join(map(str, point.sources))))
        for number, wrong in enumerate(generated.misconceptions, 1):
            printout(_("Misconception %(n)d: %(claim)s Correction: "
                       "%(correction)s", n=number, claim=wrong.claim,
                       correction=wrong.correction))
        if not generated.misconceptions:
            printout(_("Misconceptions: none"))

    def _grade_eval(self, *args):
        positional = [a for a in args if a != '--json']
        if len(positional) != 1:
            raise AdminCommandError(_("Usage: learning grade-eval <file.csv> "
                                      "[--json]"), show_usage=True)
        rows = self._read_marked_answers(positional[0])
        provider = LearningLLM(self.env).provider
        scores, marks = [], []
        started = time.monotonic()
        for number, row in enumerate(rows, 1):
            try:
                evaluation = provider.evaluate(row['question'],
                                               row['reference_answer'],
                                               row['student_answer'], '')
            except LLMUnavailable as e:
                raise AdminCommandError(_("The provider stopped answering "
                                          "at row %(n)d: %(error)s",
                                          n=number, error=e))
            scores.append(evaluation.score)
            marks.append(row['mark'])
            if number % 500 == 0:
                sys.stderr.write('%d/%d graded\n' % (number, len(rows)))
        figures = agreement(scores, marks, MASTERY_THRESHOLD)
        seconds = time.monotonic() - started
        printout(_("Graded %(n)d answers with %(provider)s in %(s).1f s",
                   n=figures['n'], provider=provider.describe(), s=seconds))
        for name in ('pearson', 'spearman', 'rmse', 'mastery_accuracy',
                     'auc'):
            value = figures[name]
            printout('  %-17s %s' % (name, '-' if value is None or (
                isinstance(value, float) and math.isnan(value))
                else '%.4f' % value))
        if '--json' in args:
            printout(json.dumps({k: (None if isinstance(v, float) and
                                     math.isnan(v) else v)
                                 for k, v in figures.items()},
                                sort_keys=True))

    # Internal methods

    def _provider_call(self, method, *args):
        try:
            return getattr(LearningLLM(self.env).provider, method)(*args)
        except LLMUnavailable as e:
            raise AdminCommandError(_("The LLM provider is unavailable: "
                                      "%(error)s", error=e))

    def _find_chunk(self, chunk_id, corpus):
        if corpus:
            try:
                chunks = [chunk for _, chunk in read_jsonl(corpus)]
            except (OSError, ValueError) as e:
                raise AdminCommandError(str(e))
        else:
            chunks = load_starter_corpus()
        for chunk in chunks:
            if chunk.get('id') == chunk_id:
                return chunk
        raise AdminCommandError(_("No chunk %(id)s in %(corpus)s.",
                                  id=chunk_id,
                                  corpus=corpus or _("the starter corpus")))

    def _read_marked_answers(self, path):
        try:
            with open(path, newline='', encoding='utf-8') as f:
                reader = csv.DictReader(f)
                missing = [c for c in GRADE_EVAL_COLUMNS
                           if c not in (reader.fieldnames or ())]
                if missing:
                    raise AdminCommandError(_(
                        "%(path)s lacks the columns %(columns)s.", path=path,
                        columns=', '.join(missing)))
                rows = []
                for number, row in enumerate(reader, 2):
                    try:
                        mark = float(row['score01'])
                    except (TypeError, ValueError):
                        mark = float('nan')
                    if not 0 <= mark <= 1:
                        raise AdminCommandError(_(
                            "Line %(n)d: score01 must be a number from 0 to "
                            "1.", n=number))
                    rows.append(dict(row, mark=mark))
        except OSError as e:
            raise AdminCommandError(_("Cannot read %(path)s: %(error)s",
                                      path=path, error=e.strerror))
        if not rows:
            raise AdminCommandError(_("%(path)s has no answers.", path=path))
        return rows
