"""`StudyLoop`: a learner answers a concept's question, the configured
provider grades it, and their progress and the concept ticket follow.

Grading happens before any write (a grader that is down records nothing);
the attempt, the progress row and the ticket change are then written in one
transaction (`tracl.model.progress.record_attempt`). Afterwards the cached
progress of the concept is dropped and the learner's progress version is
bumped, which retires every cached view derived from their progress.
"""

from trac.config import BoolOption, FloatOption, IntOption
from trac.core import Component
from trac.util.translation import _

from tracl.cache import PROGRESS_TTL, LearningCache, progress_key
from tracl.clock import LearningClock
from tracl.llm import MASTERY_THRESHOLD, LearningLLM, LLMUnavailable
from tracl.llm.grading import AnswerGrader
from tracl.model import concepts, follow_ups, progress as model
from tracl.model import questions, reviews
from tracl.model.rubrics import QuestionError
from tracl.model.follow_ups import doubtful_point, follow_up_question
from tracl.model.evidence import evidence_api, evidence_of
from tracl.study.paths import question_author
from tracl.study.retention import SCHEDULER_VERSION, Retention
from tracl.util import iso

#: Answer lengths the API accepts: ten characters say something of one's
#: own; 5000 is a page, more than a question asks for.
MIN_ANSWER, MAX_ANSWER = 10, 5000

#: Longest personal notes, in characters.
MAX_NOTES = 20000

#: Longest heartbeat, in seconds: a page reports its study time every half
#: minute or so (`heartbeat_interval`); five minutes in one report is no
#: study time but a tab left open, or a made-up figure.
MAX_HEARTBEAT = 300


def _generation_key(key):
    return key + ':generation'


class ConceptLocked(Exception):
    """The concept is locked: its learner has never mastered it, nor one of
    its prerequisites (`blockers`)."""

    def __init__(self, blockers):
        super().__init__(', '.join('#%d' % b.ticket_id for b in blockers))
        self.blockers = blockers


class QuestionChanged(Exception):
    """The answer was written for question `asked`, but the concept asks
    `current` now (the page was opened before the question changed)."""

    def __init__(self, asked, current):
        super().__init__('question %s answered, question %s is current'
                         % (asked, current))
        self.asked = asked
        self.current = current


#: Difficulties at which a provider is asked for a concept's second
#: question before giving up (each may be a model call).
SECOND_QUESTION_TRIES = 3


class StudyLoop(Component):
    """Answers, grading, progress, notes and study time of concepts."""

    mastery_threshold = FloatOption('learning', 'mastery_threshold',
                                    MASTERY_THRESHOLD,
        """Score (0 to 1) at which an answer shows the concept is mastered:
        its ticket is closed as fixed.""")

    show_expected_answer = BoolOption('learning', 'show_expected_answer',
                                      'true',
        """Show the expected answer on a concept's page once the learner
        has mastered it (never before).""")

    max_reported_seconds = IntOption('learning', 'max_reported_seconds',
                                     3600,
        """Most study time, in seconds, one submission may add to a
        concept (besides the page's heartbeats).""")

    # Public methods

    def concept(self, sub, ticket_id):
        """Learner `sub`'s concept `ticket_id`, or None (no such concept,
        or another learner's)."""
        concept = concepts.load_concept(self.env, ticket_id)
        if concept is None or concept.owner != sub:
            return None
        return concept

    def blockers(self, sub, ticket_id):
        """The prerequisites that lock `sub`'s concept: none once they have
        mastered it, else those they have never mastered."""
        return concepts.blockers(self.env, sub, ticket_id)

    def submit(self, sub, concept, answer, seconds=None, question_id=None,
               follow_up_id=None):
        """Grade `answer` to `concept` (learner `sub`'s) against its
        current question's rubric and record it with that question;
        returns an `AttemptResult`. `question_id`, when given, is the
        question the learner answered; `follow_up_id` the follow-up
        question `answer` replies to (graded together with the answer it
        follows). A close call the grader is unsure of asks a follow-up
        (`AttemptResult.follow_up`: id and question); a fresh answer lets
        the open one lapse. Raises `ConceptLocked`, `QuestionChanged` when
        `question_id` is not the current question,
        `tracl.model.follow_ups.FollowUpLapsed` when the follow-up is no
        longer open, and `LLMUnavailable`; nothing is recorded then. A
        mastered concept is never locked: it may be answered again, and
        stays mastered."""
        blockers = self.blockers(sub, concept.ticket_id)
        if blockers:
            raise ConceptLocked(blockers)
        if question_id is not None and question_id != concept.question_id:
            # Graded against another question's rubric, the answer would
            # get a grade that means nothing.
            raise QuestionChanged(question_id, concept.question_id)
        follow_up = None
        graded = answer
        if follow_up_id is not None:
            # A reply is graded together with the answer it follows.
            follow_up = follow_ups.open_follow_up(
                self.env, sub, concept.ticket_id, follow_up_id)
            graded = follow_up.answer + '\n\n' + answer
        grader = AnswerGrader(self.env)
        evaluation = grader.grade(
            concept.question, concept.expected_answer, graded,
            concept.context, rubric=concept.rubric, content=concept.content)
        score = min(1.0, max(0.0, float(evaluation.score)))
        close_call = evaluation.confidence is not None and \
            evaluation.confidence.level == 'low' and \
            abs(score - self.mastery_threshold) < grader.uncertain_margin
        feedback = evaluation.feedback
        if follow_up is not None and close_call:
            feedback += ' ' + _("This grade is still a close call: an "
                                "instructor will review it.")
        point = doubtful_point(evaluation.evidence) \
            if close_call and follow_up is None else None
        # An answer about to master the concept for the first time: its
        # chunk may need a second question for the reviews, written now,
        # outside the attempt's transaction (it may be a model call).
        second = self._second_question(concept) \
            if point is None and score >= self.mastery_threshold and \
            self.progress(sub, concept.ticket_id)['completed_at'] is None \
            else None
        with self.env.db_transaction as db:
            result = model.record_attempt(
                self.env, sub, concept, answer, evaluation, score, feedback,
                seconds, self.max_reported_seconds, self.mastery_threshold,
                self._comment, evidence_of(evaluation, concept.content),
                schedule=Retention(self.env).scheduler_for(sub),
                clock=LearningClock(self.env).now,
                scheduler_name=SCHEDULER_VERSION,
                # A follow-up asks about this question: the concept keeps
                # it until the follow-up is answered or lapses.
                rotate=point is None, first_review_question=second)
            if not follow_ups.close_open(
                    self.env, db, sub, concept.ticket_id,
                    follow_up.id if follow_up else None, result.attempt):
                # Answered or lapsed while this reply was graded.
                raise follow_ups.FollowUpLapsed(follow_up_id)
            if point is not None:
                question = follow_up_question(point, concept.question)
                result = result._replace(follow_up=(follow_ups.ask(
                    self.env, db, sub, concept.ticket_id, result.attempt,
                    question, point), question))
        self.progress_changed(sub, concept.ticket_id, status_changed=True)
        return result

    def progress(self, sub, ticket_id):
        """`sub`'s progress on the concept as the API shows it (`GET
        /progress/{ticket_id}`), cached."""
        cache = LearningCache(self.env)
        key = progress_key(sub, ticket_id)
        # An entry carries the concept's generation, read before the
        # database: a change committed while this reads bumps it, so what
        # was read too early is never served afterwards.
        found = cache.get_many([key, _generation_key(key)])
        generation = found.get(_generation_key(key)) or 0
        cached = found.get(key)
        if cached is not None and cached.get('generation') == generation:
            return cached['progress']
        read = model.read_progress(self.env, sub, ticket_id)
        payload = {
            'ticket_id': ticket_id, 'status': read['status'],
            'score': read['score'], 'best_score': read['best_score'],
            'time_spent_minutes': round(read['time_spent_minutes'], 2),
            'notes': read['notes'], 'feedback': read['feedback'],
            'started_at': iso(read['started_at']),
            'last_accessed': iso(read['last_accessed']),
            'completed_at': iso(read['completed_at']),
            'attempts': [dict(a, created_at=iso(a['created_at']),
                              **evidence_api(a['evidence']))
                         for a in read['attempts']]}
        cache.set(key, {'generation': generation, 'progress': payload},
                  PROGRESS_TTL)
        return payload

    def expected_answer(self, sub, concept):
        """The expected answer `sub` may see now, else None: allowed by
        trac.ini, the concept mastered and not due for review. It is the
        answer to the question they last mastered (`answered_question`),
        never to the one the concept asks now if they have not mastered
        that: after a review the concept asks its next review's question,
        and its answer would answer that review in advance."""
        answered = self.answered_question(sub, concept)
        return answered[1] if answered else None

    def answered_question(self, sub, concept):
        """`(question, expected answer)` of the question `sub` last
        mastered on the concept, when they may see its answer now (see
        `expected_answer`), else None."""
        if not self.show_expected_answer:
            return None
        if self.progress(sub, concept.ticket_id)['status'] != 'mastered':
            return None
        card = reviews.cards(self.env, sub, [concept.ticket_id]).get(
            concept.ticket_id)
        if card is not None and card.due <= LearningClock(self.env).now():
            return None
        question_id = model.last_mastered_question(
            self.env, sub, concept.ticket_id, self.mastery_threshold)
        if question_id is None or question_id == concept.question_id:
            return (concept.question, concept.expected_answer) \
                if concept.expected_answer else None
        stored = questions.load_question(self.env, question_id)
        return (stored.question, stored.expected_answer) \
            if stored is not None and stored.expected_answer else None

    def heartbeat(self, sub, ticket_id, seconds):
        """Count `seconds` of study on the page; returns the seconds
        credited (at most the time since the learner's last activity)."""
        credited = model.add_time(self.env, sub, ticket_id, seconds,
                                  MAX_HEARTBEAT)
        # Time is not part of any view keyed by the progress version (the
        # graph, the summaries): only the concept's own entry goes.
        self.progress_changed(sub, ticket_id, status_changed=False)
        return credited

    def save_notes(self, sub, ticket_id, notes):
        model.save_notes(self.env, sub, ticket_id, notes)
        self.progress_changed(sub, ticket_id, status_changed=False)

    def subjects(self, sub):
        """`sub`'s concepts counted per subject (`GET /progress`), cached under the learner's progress version."""
        return LearningCache(self.env).learner_view(
            'progress', sub, lambda: model.subject_summaries(self.env, sub),
            PROGRESS_TTL)

    def progress_changed(self, sub, ticket_id, status_changed):
        """Forget the cached views of `sub`'s concept (and, when its
        status changed, every view keyed by their progress version)."""
        cache = LearningCache(self.env)
        key = progress_key(sub, ticket_id)
        cache.backend.incr(_generation_key(key), PROGRESS_TTL)
        cache.delete(key)
        if status_changed:
            cache.bump_progress_version(sub)

    # Internal methods

    def _second_question(self, concept):
        """A second question for the reviews of a concept whose chunk has
        only one (None otherwise, or when the provider cannot write one):
        the provider writes it at another difficulty, which tests another
        aspect of the same text (up to `SECOND_QUESTION_TRIES`
        difficulties, nearest first, until one differs from the chunk's),
        and it is stored for every learner. Never raises: without it, the
        concept asks what it asks."""
        try:
            chunk_id = questions.chunk_of(self.env, concept.ticket_id)
            if chunk_id is None:
                return None
            known = questions.chunk_questions(self.env, chunk_id)
            if len(known) > 1:
                return None
            asked = {q.question.strip().lower() for q in known}
            level = concept.difficulty or 3
            provider = LearningLLM(self.env).provider
            for difficulty in sorted(
                    (d for d in range(1, 6) if d != level),
                    key=lambda d: (abs(d - level), -d))[
                    :SECOND_QUESTION_TRIES]:
                written = provider.generate_question(
                    concept.concept, concept.content, difficulty,
                    concept.context)
                if written.key_points and \
                        written.question.strip().lower() not in asked:
                    return questions.store_question(
                        self.env, questions.question_record(chunk_id,
                                                            written),
                        concept.content, question_author(provider))
        except Exception as e:
            # The answer is graded and about to be recorded: a second
            # question can wait for the concept's next mastery.
            self.log.warning("No second question for concept %d: %s",
                             concept.ticket_id, e)
        return None

    @staticmethod
    def _comment(attempt, score, newly_mastered, lapsed=False):
        text = _("Answer attempt %(n)d scored %(score)d%%.", n=attempt,
                 score=int(round(score * 100)))
        if newly_mastered:
            text += ' ' + _("Concept mastered.")
        if lapsed:
            text += ' ' + _("A review below mastery: the concept is "
                            "studied again until it is mastered again.")
        return text
