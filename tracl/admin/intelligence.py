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
from tracl.llm.metrics import (agreement, false_mastery_rate,
                                false_refusal_rate)
from tracl.llm.grading import AnswerGrader
from tracl.model.questions import chunk_questions, grading_rubric
from tracl.search import ChunkStoreUnavailable, LearningChunkStore

#: Columns `grade-eval` needs.
GRADE_EVAL_COLUMNS = ('question', 'reference_answer', 'student_answer',
                      'score01')

#: The figures `grade-eval` prints, in order: today's agreement first,
#: then how the mastery decision errs each way.
GRADE_EVAL_FIGURES = ('pearson', 'spearman', 'rmse', 'mastery_accuracy',
                      'auc', 'bias', 'balanced_accuracy',
                      'false_mastery_rate', 'false_refusal_rate',
                      'confident_accuracy', 'uncertain_share')


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
        yield ('learning grade-eval', '<file.csv> [--json] [--rows]',
               """Grade marked answers and print how the grades agree

               The CSV needs the columns student_answer and score01 (the
               human mark, 0..1) and either question and reference_answer
               or chunk_id (graded against the chunk's first stored question
               and its rubric; a chunk without one is reported and skipped).
               Prints n, Pearson, Spearman, RMSE, the accuracy of the
               mastery decision (score >= [learning] mastery_threshold),
               the AUC when the marks are 0 or 1, the bias (mean score minus
               mean mark), the balanced accuracy and the false mastery and
               false refusal rates, and the agreement per kind when there
               is a kind column. --rows prints every answer's grade. With
               --json the last line is those figures as JSON (with --rows,
               a rows list in input order).""",
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
        flags = ('--json', '--rows')
        positional = [a for a in args if a not in flags]
        if len(positional) != 1:
            raise AdminCommandError(_("Usage: learning grade-eval <file.csv> "
                                      "[--json] [--rows]"), show_usage=True)
        rows, columns = self.read_marked_answers(positional[0])
        threshold = self.config.getfloat('learning', 'mastery_threshold',
                                         MASTERY_THRESHOLD)
        provider = LearningLLM(self.env).provider
        grader = AnswerGrader(self.env)
        graded, unknown = [], []
        questions = {}
        started = time.monotonic()
        for number, row in enumerate(rows, 1):
            asked = self.asked_question(row, questions)
            if isinstance(asked, str):
                unknown.append((number, asked))
                row['grade'], row['problem'] = None, asked
                continue
            question, expected, rubric, content = asked
            try:
                evaluation = grader.grade(question, expected,
                                          row['student_answer'], '',
                                          rubric, content)
            except LLMUnavailable as e:
                raise AdminCommandError(_("The provider stopped answering "
                                          "at row %(n)d: %(error)s",
                                          n=number, error=e))
            row['grade'] = evaluation
            graded.append(row)
            if number % 500 == 0:
                sys.stderr.write('%d/%d graded\n' % (number, len(rows)))
        for number, problem in unknown:
            printout(_("row %(n)d: %(problem)s", n=number, problem=problem))
        if not graded:
            raise AdminCommandError(_("No answer could be graded: "
                                      "%(n)d rows name no known question.",
                                      n=len(unknown)))
        scores = [row['grade'].score for row in graded]
        marks = [row['mark'] for row in graded]
        figures = agreement(scores, marks, threshold)
        figures.update(_confidence_figures(graded, threshold))
        seconds = time.monotonic() - started
        printout(_("Graded %(n)d answers with %(provider)s in %(s).1f s",
                   n=figures['n'], provider=provider.describe(), s=seconds))
        if unknown:
            printout(_("%(n)d rows not graded (no known question).",
                       n=len(unknown)))
        for name in GRADE_EVAL_FIGURES:
            printout('  %-19s %s' % (name, _figure(figures[name])))
        by_kind = None
        if 'kind' in columns:
            by_kind = _kind_agreement(graded, threshold)
            printout(_("Agreement of the mastery decision by kind:"))
            for kind, kind_figures in by_kind.items():
                printout('  %-19s %s  (n=%d, false mastery %s, false '
                         'refusal %s)' % (
                             kind, _figure(kind_figures['agreement']),
                             kind_figures['n'],
                             _figure(kind_figures['false_mastery_rate']),
                             _figure(kind_figures['false_refusal_rate'])))
        if '--rows' in args:
            for number, row in enumerate(rows, 1):
                printout(_row_line(number, row, threshold))
        if '--json' in args:
            result = {k: _json_number(v) for k, v in figures.items()}
            if by_kind is not None:
                result['by_kind'] = {
                    kind: {k: _json_number(v) for k, v in f.items()}
                    for kind, f in by_kind.items()}
            if '--rows' in args:
                result['rows'] = [_row_json(row, columns, threshold)
                                  for row in rows]
            printout(json.dumps(result, sort_keys=True))

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

    def asked_question(self, row, questions):
        """`(question, expected answer, rubric, chunk text)` that `row`
        answers, or why it has none. A row that carries its question and
        reference is graded against them without a rubric. A row naming a
        chunk is graded as a learner's answer to the chunk's first
        question (the one a learner meets first): against its grading
        rubric, and checked for text copied from the chunk. `questions`
        caches the chunks already looked up."""
        if row.get('question') and row.get('reference_answer'):
            return row['question'], row['reference_answer'], None, ''
        chunk_id = (row.get('chunk_id') or '').strip()
        if not chunk_id:
            return _("no question and reference_answer, and no chunk_id")
        if chunk_id not in questions:
            stored = chunk_questions(self.env, chunk_id)
            try:
                chunk = LearningChunkStore(self.env).store.get_chunks(
                    [chunk_id]).get(chunk_id) if stored else None
            except ChunkStoreUnavailable as e:
                raise AdminCommandError(_("The chunk store is unavailable: "
                                          "%(error)s", error=e))
            questions[chunk_id] = None if not stored else (
                min(stored, key=lambda q: q.id), stored,
                chunk['content'] if chunk is not None else '')
        if questions[chunk_id] is None:
            return _("chunk %(id)s has no question", id=chunk_id)
        first, stored, content = questions[chunk_id]
        return (first.question, first.expected_answer,
                grading_rubric(first, stored), content)

    def read_marked_answers(self, path):
        """The rows of the CSV at `path` (each with its `mark`) and its
        columns. A row names its question either by question and
        reference_answer or by chunk_id, so a file needs one of the two."""
        try:
            with open(path, newline='', encoding='utf-8') as f:
                reader = csv.DictReader(f)
                columns = tuple(reader.fieldnames or ())
                missing = [c for c in GRADE_EVAL_COLUMNS
                           if c not in columns]
                if 'chunk_id' in columns:
                    missing = [c for c in missing
                               if c not in ('question', 'reference_answer')]
                if missing:
                    raise AdminCommandError(_(
                        "%(path)s lacks the columns %(columns)s (a chunk_id "
                        "column can replace question and reference_answer).",
                        path=path, columns=', '.join(missing)))
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
        except (UnicodeDecodeError, csv.Error) as e:
            raise AdminCommandError(_("Cannot read %(path)s as CSV: "
                                      "%(error)s", path=path, error=e))
        if not rows:
            raise AdminCommandError(_("%(path)s has no answers.", path=path))
        return rows, columns


def _json_number(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def _figure(value):
    value = _json_number(value)
    return '-' if value is None else '%.4f' % value


def _confidence_figures(graded, threshold):
    """How the grader's confidence bears out: the accuracy of the mastery
    decision on the grades it is highly confident of, and the share of
    grades of low confidence (None when the grader does not say)."""
    rated = [row for row in graded if row['grade'].confidence is not None]
    if not rated:
        return {'confident_accuracy': None, 'uncertain_share': None}
    confident = [row for row in rated
                 if row['grade'].confidence.level == 'high']
    return {
        'confident_accuracy': sum(
            (row['grade'].score >= threshold) == (row['mark'] >= threshold)
            for row in confident) / float(len(confident))
        if confident else None,
        'uncertain_share': sum(row['grade'].confidence.level == 'low'
                               for row in rated) / float(len(rated))}


def _kind_agreement(graded, threshold):
    """`{kind: figures}` of the graded rows, kinds in input order: how
    often the mastery decision agrees with the marks for each kind of
    answer, and how it errs."""
    kinds = {}
    for row in graded:
        kinds.setdefault(row.get('kind') or '', []).append(row)
    result = {}
    for kind, kind_rows in kinds.items():
        scores = [row['grade'].score for row in kind_rows]
        marks = [row['mark'] for row in kind_rows]
        result[kind] = {
            'n': len(kind_rows),
            'agreement': sum((s >= threshold) == (m >= threshold)
                             for s, m in zip(scores, marks))
            / float(len(kind_rows)),
            'false_mastery_rate': false_mastery_rate(scores, marks,
                                                     threshold),
            'false_refusal_rate': false_refusal_rate(scores, marks,
                                                     threshold)}
    return result


def _row_line(number, row, threshold):
    """One answer's grade as `--rows` prints it."""
    where = ' '.join(row[c] for c in ('chunk_id', 'kind') if row.get(c))
    grade = row['grade']
    if grade is None:
        return _("row %(n)d %(where)s: not graded: %(problem)s", n=number,
                 where=where, problem=row['problem'])
    return _("row %(n)d %(where)s: score %(score).2f, %(verdict)s "
             "(mark %(mark)g). %(feedback)s", n=number, where=where,
             score=grade.score, mark=row['mark'],
             verdict=_("mastered") if grade.score >= threshold
             else _("not mastered"),
             feedback=' '.join(grade.feedback.split()))


def _row_json(row, columns, threshold):
    """One answer's grade in the `rows` of `--json --rows`: an answer
    that could not be graded keeps its place with an empty score."""
    grade = row['grade']
    result = {'score': None if grade is None else grade.score,
              'mastered': None if grade is None
              else grade.score >= threshold,
              'feedback': _("Not graded: %(problem)s.",
                            problem=row['problem']) if grade is None
              else grade.feedback}
    for column in ('chunk_id', 'kind'):
        if column in columns:
            result[column] = row.get(column)
    return result
