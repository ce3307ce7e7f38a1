"""A question's rules: what a question about a chunk is, and its rubric.

A question asks about one chunk. It comes with the expected answer it is
graded against and a rubric: two to five key points and at most three
misconceptions. A key point is one sentence stating an idea a good answer
gives; it names the sentences of the chunk it rests on (numbered from 1 as
`sentences` splits the chunk), so a grade can point the learner at what to
reread and a key point can never drift outside the text. A misconception
is a false claim a learner might make, with its correction.

Questions are keyed by chunk and shared by every learner: the first
question of a concept is also kept in Trac's ticket fields, the rest live
only in the learning tables. This module holds the rules alone; reading and
writing the table is the question store's job.
"""

import re
from collections import namedtuple

#: Key points a rubric has, at least and at most.
MIN_KEY_POINTS, MAX_KEY_POINTS = 2, 5

#: Misconceptions a rubric may list.
MAX_MISCONCEPTIONS = 3
#: Most misconceptions an answer is graded against: its question's and
#: those of the other questions of its chunk.
MAX_GRADING_MISCONCEPTIONS = 12

#: Bounds of a question, of an expected answer and of a rubric sentence,
#: in characters: long enough to say something, short enough to read.
QUESTION_LENGTH = (10, 300)
EXPECTED_ANSWER_LENGTH = (20, 1500)
RUBRIC_SENTENCE_LENGTH = (8, 400)

#: Question difficulties, as a chunk's.
MIN_DIFFICULTY, MAX_DIFFICULTY = 1, 5

#: Fields a question record may have.
QUESTION_FIELDS = ('chunk_id', 'question', 'difficulty', 'expected_answer',
                   'key_points', 'misconceptions')

#: An idea a good answer gives, and the numbers of the chunk's sentences
#: it rests on.
KeyPoint = namedtuple('KeyPoint', ['point', 'sources'])

#: A false claim a learner might make, and what is true instead.
Misconception = namedtuple('Misconception', ['claim', 'correction'])

#: What an answer is graded against: `KeyPoint`s and `Misconception`s.
Rubric = namedtuple('Rubric', ['key_points', 'misconceptions'])

#: How far an answer covers a key point, in the grade's evidence.
COVERED, PARTIAL, MISSING = 'covered', 'partial', 'missing'

#: One line of a grade's evidence: the key point, how far the answer covers
#: it (`COVERED`, `PARTIAL` or `MISSING`) and the chunk text it comes from
#: (empty when the rubric was derived from an expected answer alone).
PointGrade = namedtuple('PointGrade', ['point', 'status', 'source'])


class Question(namedtuple('Question', [
        'chunk_id', 'question', 'difficulty', 'expected_answer',
        'key_points', 'misconceptions'])):
    """A question about a chunk with its expected answer and rubric;
    `key_points` are `KeyPoint`s, `misconceptions` `Misconception`s."""

    __slots__ = ()

    @property
    def rubric(self):
        return Rubric(self.key_points, self.misconceptions)

    def as_json(self):
        """The question as the JSON object question files hold."""
        return {
            'chunk_id': self.chunk_id, 'question': self.question,
            'difficulty': self.difficulty,
            'expected_answer': self.expected_answer,
            'key_points': [{'point': k.point, 'sources': list(k.sources)}
                           for k in self.key_points],
            'misconceptions': [{'claim': m.claim,
                                'correction': m.correction}
                               for m in self.misconceptions]}


class QuestionError(ValueError):
    """A question or rubric that breaks the rules; the message says how."""


# A sentence ends at `.`, `!` or `?` (perhaps closed by a quote or a
# bracket) followed by white space and something that can start a sentence.
_SENTENCE_BREAK = re.compile(
    r'(?<=[.!?])["\u201d\u2019)\]]?\s+(?=[A-Z0-9"\u201c\u2018(\[])')


def sentences(text):
    """The sentences of a chunk's text, in order: key points name them by
    their position in this list, counting from 1."""
    return [s.strip() for s in _SENTENCE_BREAK.split((text or '').strip())
            if s.strip()]


def question_problems(raw, content):
    """What is wrong with question record `raw` about a chunk whose text is
    `content`: a list of sentences, empty when the question may be used."""
    if not isinstance(raw, dict):
        return ['a question must be a JSON object']
    problems = []
    unknown = sorted(set(raw) - set(QUESTION_FIELDS))
    if unknown:
        problems.append('unknown field%s %s' % (
            '' if len(unknown) == 1 else 's', ', '.join(map(repr, unknown))))
    _check_text(raw.get('question'), 'question', QUESTION_LENGTH, problems)
    question = raw.get('question')
    if isinstance(question, str) and not question.rstrip().endswith('?'):
        problems.append('the question must end with a question mark')
    difficulty = raw.get('difficulty')
    if (isinstance(difficulty, bool) or not isinstance(difficulty, int)
            or not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY):
        problems.append('difficulty must be a whole number from %d to %d'
                        % (MIN_DIFFICULTY, MAX_DIFFICULTY))
    _check_text(raw.get('expected_answer'), 'expected_answer',
                EXPECTED_ANSWER_LENGTH, problems)
    count = len(sentences(content))
    points = raw.get('key_points')
    if not isinstance(points, list) or \
            not MIN_KEY_POINTS <= len(points) <= MAX_KEY_POINTS:
        problems.append('a rubric has %d to %d key points'
                        % (MIN_KEY_POINTS, MAX_KEY_POINTS))
        points = points if isinstance(points, list) else []
    for number, point in enumerate(points, 1):
        problems.extend('key point %d: %s' % (number, problem)
                        for problem in _key_point_problems(point, count))
    misconceptions = raw.get('misconceptions', [])
    if not isinstance(misconceptions, list) or \
            len(misconceptions) > MAX_MISCONCEPTIONS:
        problems.append('a rubric has at most %d misconceptions'
                        % MAX_MISCONCEPTIONS)
        misconceptions = misconceptions \
            if isinstance(misconceptions, list) else []
    for number, item in enumerate(misconceptions, 1):
        if not isinstance(item, dict) or set(item) != {'claim',
                                                       'correction'}:
            problems.append('misconception %d must have a claim and a '
                            'correction, and nothing else' % number)
            continue
        for field in ('claim', 'correction'):
            _check_text(item[field], 'misconception %d: %s' % (number, field),
                        RUBRIC_SENTENCE_LENGTH, problems)
    return problems


def check_question(raw, content):
    """`raw` as a `Question`, or `QuestionError` saying what is wrong."""
    problems = question_problems(raw, content)
    if problems:
        raise QuestionError('; '.join(problems))
    return Question(
        raw.get('chunk_id'), raw['question'].strip(), raw['difficulty'],
        raw['expected_answer'].strip(),
        [KeyPoint(p['point'].strip(), list(p['sources']))
         for p in raw['key_points']],
        [Misconception(m['claim'].strip(), m['correction'].strip())
         for m in raw.get('misconceptions', [])])


def _key_point_problems(point, sentence_count):
    if not isinstance(point, dict) or set(point) != {'point', 'sources'}:
        return ['must have a point and its sources, and nothing else']
    problems = []
    _check_text(point['point'], 'point', RUBRIC_SENTENCE_LENGTH, problems)
    sources = point['sources']
    if not isinstance(sources, list) or not sources:
        problems.append('names none of the chunk\'s sentences it rests on')
    else:
        for source in sources:
            if isinstance(source, bool) or not isinstance(source, int) or \
                    not 1 <= source <= sentence_count:
                problems.append('names sentence %s, but the chunk has '
                                'sentences 1 to %d'
                                % (source, sentence_count))
    return problems


def _check_text(value, name, bounds, problems):
    low, high = bounds
    if not isinstance(value, str) or not value.strip():
        problems.append('%s must be non-empty text' % name)
    elif not low <= len(value.strip()) <= high:
        problems.append('%s has %d characters; %d to %d fit'
                        % (name, len(value.strip()), low, high))
