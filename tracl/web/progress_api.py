"""`/api/v1/progress`: answering a concept's question, reading progress,
notes and study time.

Every ticket-level call checks that the concept is the caller's: another
learner's concept, or a ticket that is not a concept, answers 404. A
LEARNING_ADMIN may read a learner's progress with `?user=SUB`; nobody
answers or writes notes for someone else.
"""

from trac.core import Component, implements
from trac.util.translation import _

from tracl.api import IApiEndpointProvider
from tracl.llm import LLMUnavailable
from tracl.model.evidence import evidence_api
from tracl.model.follow_ups import FollowUpLapsed
from tracl.model.reviews import review_json
from tracl.study.loop import (MAX_ANSWER, MAX_HEARTBEAT, MAX_NOTES,
                              MIN_ANSWER, ConceptLocked, QuestionChanged,
                              StudyLoop)
from tracl.study.retention import Retention
from tracl.web.api import ApiError, Endpoint, reader_sub
from tracl.web.openapi import api_errors, reads_a_learner

#: Largest study time one submission may report, in seconds (a day).
MAX_REPORTED_SECONDS = 86400

_STATUS = {'enum': ['not_started', 'studying', 'mastered']}
_SCORE = {'type': ['number', 'null'], 'minimum': 0, 'maximum': 1}
_TIME = {'type': ['string', 'null']}

SUBMIT_REQUEST = {
    'type': 'object', 'required': ['answer'],
    'properties': {
        'answer': {'type': 'string', 'minLength': MIN_ANSWER,
                   'maxLength': MAX_ANSWER},
        'time_spent_seconds': {'type': 'integer', 'minimum': 0,
                               'maximum': MAX_REPORTED_SECONDS},
        'question_id': {
            'type': 'integer', 'minimum': 1,
            'description': 'The question answered, as the concept page '
                           'gave it (default: the current one). When it is '
                           'no longer the current question the answer is '
                           'refused with 409 question_changed.'},
        'follow_up_id': {
            'type': 'integer', 'minimum': 1,
            'description': 'The follow-up question this answer replies to '
                           '(a previous response\'s follow_up.id): the reply '
                           'is an attempt of its own, graded together with '
                           'the answer it follows. 409 follow_up_lapsed when '
                           'it was answered, or lapsed after a fresh answer '
                           'or 24 hours.'}},
}

#: What a grade rests on, in submit-answer's response and each attempt.
EVIDENCE_PROPERTIES = {
    'evidence': {
        'type': 'array',
        'description': "Each key point of the question's rubric, in order: "
                       'how far the answer gives it, and the sentences of '
                       "the concept's text it comes from (what to reread; "
                       'empty when unknown). Empty for a grade without a '
                       'rubric or from before rubrics.',
        'items': {
            'type': 'object', 'required': ['point', 'status', 'source'],
            'properties': {
                'point': {'type': 'string'},
                'status': {'enum': ['covered', 'partial', 'missing']},
                'source': {'type': 'string'}}}},
    'errors': {
        'type': 'array',
        'description': 'Misconceptions the answer states and key points it '
                       'contradicts, each with its correction. Any of them '
                       'keeps the grade below mastery.',
        'items': {
            'type': 'object', 'required': ['claim', 'correction'],
            'properties': {'claim': {'type': 'string'},
                           'correction': {'type': 'string'}}}},
    'confidence': {
        'type': ['object', 'null'],
        'description': 'How sure the grader is of the verdict (null for a '
                       'grader that does not say, or a grade from before '
                       'confidence was kept).',
        'required': ['level', 'reason'],
        'properties': {'level': {'enum': ['high', 'medium', 'low']},
                       'reason': {'type': 'string'}}},
}

REVIEW_RESULT = {
    'type': ['object', 'null'],
    'description': 'What the answer was for the review schedule: study '
                   '(never mastered), first (the first mastery starts the '
                   'schedule), review (the concept was due: a mastering '
                   'score is rated good, anything less again, a lapse), '
                   'practice (mastered and not due: recorded, the '
                   'schedule and mastery stay) or relearning (after a '
                   'lapse, until mastered again); due is the next review.',
    'required': ['kind', 'rating', 'due', 'lapsed'],
    'properties': {
        'kind': {'enum': ['study', 'first', 'review', 'practice',
                          'relearning']},
        'rating': {'enum': ['good', 'again', None]},
        'due': {'type': ['string', 'null']},
        'lapsed': {'type': 'boolean'}},
}

REVIEW_STATE = {
    'type': ['object', 'null'],
    'description': "The concept's review schedule (null before its first "
                   "mastery), with how likely the learner recalls it now.",
    'required': ['state', 'due', 'last_review', 'stability_days',
                 'retrievability', 'reviews', 'lapses'],
    'properties': {
        'state': {'enum': ['learning', 'review', 'relearning']},
        'due': {'type': 'string'}, 'last_review': {'type': 'string'},
        'stability_days': {'type': 'number'},
        'retrievability': {'type': 'number', 'minimum': 0, 'maximum': 1},
        'reviews': {'type': 'integer'}, 'lapses': {'type': 'integer'}},
}

SUBMIT_RESPONSE = {
    'type': 'object',
    'required': ['ticket_id', 'attempt', 'score', 'best_score', 'feedback',
                 'status', 'mastered', 'ticket_status', 'question_id',
                 'evidence', 'errors', 'confidence', 'follow_up', 'review'],
    'properties': dict(EVIDENCE_PROPERTIES, **{
        'review': REVIEW_RESULT,
        'follow_up': {
            'type': ['object', 'null'],
            'description': 'A follow-up question, asked when the grade is a '
                           'close call the grader is unsure of: answer it '
                           'with follow_up_id within 24 hours (null when '
                           'none is asked).',
            'required': ['id', 'question'],
            'properties': {'id': {'type': 'integer'},
                           'question': {'type': 'string'}}},
        'ticket_id': {'type': 'integer'}, 'attempt': {'type': 'integer'},
        'score': {'type': 'number', 'minimum': 0, 'maximum': 1},
        'best_score': {'type': 'number', 'minimum': 0, 'maximum': 1},
        'feedback': {'type': 'string'}, 'status': _STATUS,
        'mastered': {'type': 'boolean'}, 'ticket_status': {'type': 'string'},
        'question_id': {
            'type': ['integer', 'null'],
            'description': 'The question the answer was graded against '
                           '(null for a concept made before questions '
                           'were stored, which asks its ticket question).'}}),
}

PROGRESS_RESPONSE = {
    'type': 'object',
    'required': ['ticket_id', 'status', 'score', 'best_score',
                 'time_spent_minutes', 'notes', 'started_at',
                 'last_accessed', 'completed_at', 'attempts', 'review'],
    'properties': {
        'review': REVIEW_STATE,
        'ticket_id': {'type': 'integer'}, 'status': _STATUS,
        'score': _SCORE, 'best_score': _SCORE,
        'time_spent_minutes': {'type': 'number', 'minimum': 0},
        'notes': {'type': 'string'}, 'started_at': _TIME,
        'last_accessed': _TIME, 'completed_at': _TIME,
        'attempts': {'type': 'array', 'items': {
            'type': 'object',
            'required': ['attempt', 'answer', 'score', 'feedback', 'grader',
                         'created_at', 'evidence', 'errors', 'confidence'],
            'properties': dict(EVIDENCE_PROPERTIES, **{
                'attempt': {'type': 'integer'}, 'answer': {'type': 'string'},
                'score': {'type': 'number'}, 'feedback': {'type': 'string'},
                'grader': {'type': 'string'},
                'created_at': {'type': 'string'}})}}},
}

NOTES_SCHEMA = {
    'type': 'object', 'required': ['notes'],
    'properties': {'notes': {'type': 'string', 'maxLength': MAX_NOTES}},
}

HEARTBEAT_REQUEST = {
    'type': 'object', 'required': ['seconds'],
    'properties': {'seconds': {'type': 'integer', 'minimum': 1,
                               'maximum': MAX_HEARTBEAT}},
}

SUBJECTS_RESPONSE = {
    'type': 'object', 'required': ['subjects'],
    'properties': {'subjects': {'type': 'array', 'items': {
        'type': 'object',
        'required': ['subject', 'total', 'not_started', 'studying',
                     'mastered', 'completion'],
        'properties': {
            'subject': {'type': 'string'}, 'total': {'type': 'integer'},
            'not_started': {'type': 'integer'},
            'studying': {'type': 'integer'}, 'mastered': {'type': 'integer'},
            'completion': {'type': 'number', 'minimum': 0,
                           'maximum': 100}}}}},
}

_PROGRESS_FIELDS = tuple(name for name in PROGRESS_RESPONSE['required']
                         if name != 'review')
_ATTEMPT_FIELDS = ('attempt', 'answer', 'score', 'feedback', 'grader',
                   'created_at', 'evidence', 'errors', 'confidence')


def _whole_number(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_id(body, name, message):
    """`body[name]`, an id from 1 up, or None when absent; else a 400
    `invalid_<name>` saying `message`."""
    value = body.get(name)
    if value is not None and (not _whole_number(value) or value < 1):
        raise ApiError(400, message, code='invalid_' + name)
    return value


class ProgressApi(Component):
    """Submit answers, read progress, keep notes and study time."""

    implements(IApiEndpointProvider)

    # IApiEndpointProvider methods

    def get_api_endpoints(self):
        yield Endpoint('PUT', '/progress/{ticket_id:int}/submit-answer',
                       self._submit, "Answer a concept's question",
                       request_schema=SUBMIT_REQUEST, rate_cost=2,
                       responses={200: dict(SUBMIT_RESPONSE,
                                            description='The graded answer')})
        yield Endpoint('GET', '/progress/{ticket_id:int}', self._get,
                       "The learner's progress on a concept",
                       responses={200: dict(PROGRESS_RESPONSE,
                                            description='Progress')})
        yield Endpoint('PUT', '/progress/{ticket_id:int}/notes', self._notes,
                       'Keep personal notes on a concept',
                       request_schema=NOTES_SCHEMA,
                       responses={200: dict(NOTES_SCHEMA,
                                            description='Notes saved')})
        yield Endpoint('POST', '/progress/{ticket_id:int}/heartbeat',
                       self._heartbeat,
                       'Count study time on a concept page',
                       request_schema=HEARTBEAT_REQUEST,
                       responses={204: {'description': 'Time counted'}})
        yield Endpoint('GET', '/progress', self._subjects,
                       "The learner's concepts counted per subject",
                       responses={200: dict(SUBJECTS_RESPONSE,
                                            description='Per subject')})

    # Handlers

    @api_errors(**{'404': 'No such concept',
                   '409': 'A prerequisite is not mastered yet '
                          '(prerequisites_not_mastered), or question_id is '
                          'not the question the concept asks now '
                          '(question_changed, with current_question_id)',
                   '503': 'The grader is unavailable; nothing was '
                          'recorded'})
    def _submit(self, req, call):
        answer = call.body.get('answer')
        if not isinstance(answer, str) or \
                not MIN_ANSWER <= len(answer.strip()) <= MAX_ANSWER:
            raise ApiError(400, _("Write an answer of %(min)d to %(max)d "
                                  "characters.", min=MIN_ANSWER,
                                  max=MAX_ANSWER), code='invalid_answer')
        seconds = call.body.get('time_spent_seconds')
        if seconds is not None and (
                not _whole_number(seconds) or
                not 0 <= seconds <= MAX_REPORTED_SECONDS):
            raise ApiError(400, _("time_spent_seconds is a whole number "
                                  "from 0 to %(max)d.",
                                  max=MAX_REPORTED_SECONDS),
                           code='invalid_time')
        question_id = _optional_id(call.body, 'question_id', _(
            "question_id is the whole number that names the question "
            "answered."))
        follow_up_id = _optional_id(call.body, 'follow_up_id', _(
            "follow_up_id is the whole number that names the follow-up "
            "question answered."))
        loop = StudyLoop(self.env)
        concept = self._concept(call.sub, call.params['ticket_id'])
        try:
            result = loop.submit(call.sub, concept, answer.strip(), seconds,
                                 question_id=question_id,
                                 follow_up_id=follow_up_id)
        except FollowUpLapsed:
            raise ApiError(409, _("That follow-up question is closed: it "
                                  "was answered, or lapsed after a fresh "
                                  "answer or a day. Your answer was not "
                                  "recorded."), code='follow_up_lapsed',
                           answer=answer)
        except QuestionChanged as e:
            raise ApiError(409, _("This concept asks another question now: "
                                  "reload the page to read it, then answer "
                                  "it. Your answer was not recorded."),
                           code='question_changed',
                           current_question_id=e.current, answer=answer)
        except ConceptLocked as e:
            raise ApiError(409, _("Master the prerequisites of this concept "
                                  "first."), code='prerequisites_not_mastered',
                           prerequisites=[
                               {'ticket_id': b.ticket_id,
                                'concept': b.concept, 'status': b.status}
                               for b in e.blockers])
        except LLMUnavailable as e:
            self.log.warning("Grading unavailable, nothing recorded: %s", e)
            headers = {'Retry-After': str(int(e.retry_after))} \
                if e.retry_after else None
            raise ApiError(503, _("Grading is unavailable right now; your "
                                  "answer was not recorded. Please submit "
                                  "it again in a minute."),
                           code='grader_unavailable', headers=headers,
                           answer=answer)
        except self.env.db_exc.DatabaseError as e:
            self.log.error("Recording an answer failed, nothing was "
                           "recorded: %s", e)
            raise ApiError(503, _("Your answer could not be saved; nothing "
                                  "was recorded. Please submit it again."),
                           code='database_unavailable', answer=answer)
        return dict(evidence_api(result.evidence),
                    follow_up={'id': result.follow_up[0],
                               'question': result.follow_up[1]}
                    if result.follow_up else None,
                    review=review_json(result.review)
                    if result.review else None,
                    ticket_id=result.ticket_id, attempt=result.attempt,
                    score=result.score, best_score=result.best_score,
                    feedback=result.feedback, status=result.status,
                    mastered=result.mastered,
                    ticket_status=result.ticket_status,
                    question_id=result.question_id)

    @reads_a_learner
    @api_errors(**{'404': 'No such concept'})
    def _get(self, req, call):
        sub = reader_sub(req, call)
        concept = self._concept(sub, call.params['ticket_id'])
        found = StudyLoop(self.env).progress(sub, concept.ticket_id)
        payload = {name: found[name] for name in _PROGRESS_FIELDS}
        if sub != call.sub:
            payload['notes'] = ''   # private, even to LEARNING_ADMIN
        payload['attempts'] = [{name: a[name] for name in _ATTEMPT_FIELDS}
                               for a in found['attempts']]
        # Read at each call: how likely the learner recalls it changes
        # with the time, the cached progress does not.
        payload['review'] = Retention(self.env).state(sub, concept.ticket_id)
        return payload

    @api_errors(**{'404': 'No such concept'})
    def _notes(self, req, call):
        notes = call.body.get('notes')
        if not isinstance(notes, str) or len(notes) > MAX_NOTES:
            raise ApiError(400, _("Notes are text of at most %(max)d "
                                  "characters.", max=MAX_NOTES),
                           code='invalid_notes')
        concept = self._concept(call.sub, call.params['ticket_id'])
        StudyLoop(self.env).save_notes(call.sub, concept.ticket_id, notes)
        return {'notes': notes}

    @api_errors(**{'404': 'No such concept'})
    def _heartbeat(self, req, call):
        seconds = call.body.get('seconds')
        if not _whole_number(seconds) or not 1 <= seconds <= MAX_HEARTBEAT:
            raise ApiError(400, _("seconds is a whole number from 1 to "
                                  "%(max)d.", max=MAX_HEARTBEAT),
                           code='invalid_seconds')
        concept = self._concept(call.sub, call.params['ticket_id'])
        StudyLoop(self.env).heartbeat(call.sub, concept.ticket_id, seconds)
        return None

    @reads_a_learner
    def _subjects(self, req, call):
        return {'subjects': StudyLoop(self.env).subjects(
            reader_sub(req, call))}

    # Internal methods

    def _concept(self, sub, ticket_id):
        concept = StudyLoop(self.env).concept(sub, ticket_id)
        if concept is None:
            raise ApiError(404, _("No such concept."))
        return concept
