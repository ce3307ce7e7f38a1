"""`/api/v1` for the human review of grades: a learner's disputes, and the
instructor's queue and decisions (LEARNING_ADMIN)."""

from trac.core import Component, implements
from trac.util.translation import _

from tracl.api import IApiEndpointProvider
from tracl.model import decisions
from tracl.study.loop import StudyLoop
from tracl.study.review import (COMMENT_LENGTH, REASON_LENGTH, DisputeLimit,
                                GradingReview)
from tracl.util import iso
from tracl.web.api import ApiError, Endpoint
from tracl.web.openapi import api_errors, query_parameters

#: Most queue items one call may ask for.
MAX_QUEUE_LIMIT = 200

DISPUTE_REQUEST = {
    'type': 'object', 'required': ['attempt', 'reason'],
    'properties': {
        'attempt': {'type': 'integer', 'minimum': 1,
                    'description': 'The graded attempt to review.'},
        'reason': {'type': 'string', 'minLength': REASON_LENGTH[0],
                   'maxLength': REASON_LENGTH[1],
                   'description': 'Why the grade seems wrong.'}},
}

DISPUTE_RESPONSE = {
    'type': 'object', 'required': ['dispute_id', 'status'],
    'properties': {'dispute_id': {'type': 'integer'},
                   'status': {'enum': ['open', 'withdrawn', 'decided']}},
}

DISPUTES_RESPONSE = {
    'type': 'object', 'required': ['disputes'],
    'properties': {'disputes': {'type': 'array', 'items': {
        'type': 'object',
        'required': ['dispute_id', 'attempt', 'reason', 'status',
                     'created_at', 'closed_at'],
        'properties': {
            'dispute_id': {'type': 'integer'},
            'attempt': {'type': 'integer'},
            'reason': {'type': 'string'},
            'status': {'enum': ['open', 'withdrawn', 'decided']},
            'created_at': {'type': 'string'},
            'closed_at': {'type': ['string', 'null']}}}}},
}

QUEUE_RESPONSE = {
    'type': 'object', 'required': ['items', 'next'],
    'properties': {
        'items': {'type': 'array', 'items': {
            'type': 'object',
            'required': ['ticket_id', 'attempt', 'learner', 'concept',
                         'subject', 'score', 'confidence', 'kind', 'reason',
                         'created_at'],
            'properties': {
                'ticket_id': {'type': 'integer'},
                'attempt': {'type': 'integer'},
                'learner': {'type': 'string',
                            'description': "The learner's name."},
                'concept': {'type': 'string'},
                'subject': {'type': 'string'},
                'score': {'type': 'number'},
                'confidence': {'type': ['string', 'null']},
                'kind': {'enum': list(decisions.QUEUE_KINDS)},
                'reason': {'type': 'string',
                           'description': "The learner's reason, or why "
                                          'the grader was unsure.'},
                'created_at': {'type': 'string'}}}},
        'next': {'type': ['string', 'null'],
                 'description': 'Pass as `before` for the next page (null '
                                'on the last).'}},
}

DECISION_REQUEST = {
    'type': 'object', 'required': ['ticket_id', 'attempt', 'score',
                                   'comment'],
    'properties': {
        'ticket_id': {'type': 'integer', 'minimum': 1},
        'attempt': {'type': 'integer', 'minimum': 1},
        'score': {'type': 'number', 'minimum': 0, 'maximum': 1},
        'comment': {'type': 'string', 'minLength': COMMENT_LENGTH[0],
                    'maxLength': COMMENT_LENGTH[1]}},
}

DECISION_RESPONSE = {
    'type': 'object',
    'required': ['ticket_id', 'attempt', 'decision_attempt', 'score',
                 'status', 'ticket_status', 'grader'],
    'properties': {
        'ticket_id': {'type': 'integer'}, 'attempt': {'type': 'integer'},
        'decision_attempt': {'type': 'integer',
                             'description': "The decision's own attempt."},
        'score': {'type': 'number'},
        'status': {'enum': ['not_started', 'studying', 'mastered']},
        'ticket_status': {'type': 'string'},
        'grader': {'type': 'string',
                   'description': '`instructor:<sub>`; pages show the '
                                  "instructor's name."}},
}


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value, bounds, message, code):
    if not isinstance(value, str) or \
            not bounds[0] <= len(value.strip()) <= bounds[1]:
        raise ApiError(400, message, code=code)
    return value.strip()


class GradingReviewApi(Component):
    """Disputes for learners; the queue and decisions for instructors."""

    implements(IApiEndpointProvider)

    # IApiEndpointProvider methods

    def get_api_endpoints(self):
        yield Endpoint('POST', '/progress/{ticket_id:int}/disputes',
                       self._dispute, 'Ask for a review of a grade',
                       request_schema=DISPUTE_REQUEST, rate_cost=2,
                       responses={201: dict(DISPUTE_RESPONSE,
                                            description='Dispute opened')})
        yield Endpoint('GET', '/progress/{ticket_id:int}/disputes',
                       self._disputes, "A concept's disputes, newest first",
                       responses={200: dict(DISPUTES_RESPONSE,
                                            description='Disputes')})
        yield Endpoint('POST', '/progress/{ticket_id:int}/disputes/'
                       '{dispute_id:int}/withdraw', self._withdraw,
                       'Withdraw an open dispute',
                       responses={200: dict(DISPUTE_RESPONSE,
                                            description='Withdrawn')})
        yield Endpoint('GET', '/grading/queue', self._queue,
                       'Disputed and uncertain attempts, oldest first',
                       responses={200: dict(QUEUE_RESPONSE,
                                            description='The queue')})
        yield Endpoint('POST', '/grading/decisions', self._decide,
                       "Decide an attempt's grade",
                       request_schema=DECISION_REQUEST,
                       responses={201: dict(DECISION_RESPONSE,
                                            description='Decided')})

    # Handlers

    @api_errors(**{'404': 'No such concept, or no such attempt of it',
                   '409': 'A dispute is open for the concept already, or '
                          "the attempt is an instructor's decision",
                   '429': 'Too many disputes lately (Retry-After)'})
    def _dispute(self, req, call):
        attempt = call.body.get('attempt')
        if not _whole(attempt) or attempt < 1:
            raise ApiError(400, _("attempt is the number of a graded "
                                  "attempt."), code='invalid_attempt')
        reason = _text(call.body.get('reason'), REASON_LENGTH,
                       _("Give a reason of %(min)d to %(max)d characters.",
                         min=REASON_LENGTH[0], max=REASON_LENGTH[1]),
                       'invalid_reason')
        ticket_id = self._own_concept(call.sub, call.params['ticket_id'])
        try:
            dispute_id = GradingReview(self.env).dispute(
                call.sub, ticket_id, attempt, reason)
        except decisions.AttemptNotFound:
            raise ApiError(404, _("The concept has no attempt %(n)d.",
                                  n=attempt), code='no_such_attempt')
        except decisions.DisputeOpen:
            raise ApiError(409, _("A review of this concept is already "
                                  "pending."), code='dispute_open')
        except decisions.NotDisputable:
            raise ApiError(409, _("An instructor's decision cannot be "
                                  "disputed."), code='not_disputable')
        except DisputeLimit as e:
            raise ApiError(429, _("You have asked for many reviews lately; "
                                  "try again later."), code='rate_limited',
                           headers={'Retry-After': str(e.retry_after)})
        return 201, {'dispute_id': dispute_id, 'status': 'open'}

    @api_errors(**{'404': 'No such concept'})
    def _disputes(self, req, call):
        ticket_id = self._own_concept(call.sub, call.params['ticket_id'])
        return {'disputes': [
            {'dispute_id': d.id, 'attempt': d.attempt, 'reason': d.reason,
             'status': d.status, 'created_at': iso(d.created_at),
             'closed_at': iso(d.closed_at) if d.closed_at else None}
            for d in GradingReview(self.env).disputes(call.sub, ticket_id)]}

    @api_errors(**{'404': 'No such concept, or no open dispute of that id'})
    def _withdraw(self, req, call):
        ticket_id = self._own_concept(call.sub, call.params['ticket_id'])
        dispute_id = call.params['dispute_id']
        if not GradingReview(self.env).withdraw(call.sub, ticket_id,
                                                dispute_id):
            raise ApiError(404, _("No open dispute %(id)d on this concept.",
                                  id=dispute_id), code='no_open_dispute')
        return {'dispute_id': dispute_id, 'status': 'withdrawn'}

    @query_parameters(
        subject=({'type': 'string'}, 'Only attempts on concepts of this '
                 'subject (milestone)'),
        user=({'type': 'string'}, "Only this learner's attempts (their "
              '`sub`)'),
        kind=({'type': 'string', 'enum': list(decisions.QUEUE_KINDS)},
              'Only disputed, or only uncertain, attempts'),
        limit=({'type': 'integer', 'minimum': 1,
                'maximum': MAX_QUEUE_LIMIT},
               'Items a page (default `[learning] review_queue_page_size`)'),
        before=({'type': 'string', 'pattern': r'^[0-9]+\.[0-9]+\.[0-9]+$'},
                "The previous page's `next`: the page after it"))
    @api_errors(**{'400': 'kind, limit or before is not one the queue '
                          'reads (invalid_kind, invalid_limit, '
                          'invalid_cursor)',
                   '403': 'Only LEARNING_ADMIN reads the queue'})
    def _queue(self, req, call):
        self._instructor(req)
        kind = req.args.getfirst('kind') or None
        if kind is not None and kind not in decisions.QUEUE_KINDS:
            raise ApiError(400, _("kind is disputed or uncertain."),
                           code='invalid_kind')
        limit = req.args.getfirst('limit')
        if limit is not None:
            if not limit.isdigit() or not 1 <= int(limit) <= MAX_QUEUE_LIMIT:
                raise ApiError(400, _("limit is a number from 1 to "
                                      "%(max)d.", max=MAX_QUEUE_LIMIT),
                               code='invalid_limit')
            limit = int(limit)
        before = req.args.getfirst('before')
        after = None
        if before:
            after = decisions.parse_cursor(before)
            if after is None:
                raise ApiError(400, _("before is the next value of a "
                                      "previous page."),
                               code='invalid_cursor')
        review = GradingReview(self.env)
        size = limit or review.queue_page_size
        items = review.queue(req.args.getfirst('subject') or None,
                             req.args.getfirst('user') or None, kind,
                             size + 1, after)
        more = len(items) > size
        items = items[:size]
        return {'items': [
            {'ticket_id': i.ticket_id, 'attempt': i.attempt,
             'learner': i.learner, 'concept': i.concept,
             'subject': i.subject, 'score': i.score,
             'confidence': i.confidence, 'kind': i.kind, 'reason': i.reason,
             'created_at': iso(i.created_at)} for i in items],
            'next': items[-1].cursor if more and items else None}

    @api_errors(**{'403': 'Only LEARNING_ADMIN decides grades',
                   '404': 'No such attempt of a concept',
                   '409': 'The attempt was decided already (the first '
                          'decision wins)'})
    def _decide(self, req, call):
        self._instructor(req)
        body = call.body
        ticket_id, attempt = body.get('ticket_id'), body.get('attempt')
        if not _whole(ticket_id) or not _whole(attempt) or \
                ticket_id < 1 or attempt < 1:
            raise ApiError(400, _("ticket_id and attempt are the numbers "
                                  "of a concept and its attempt."),
                           code='invalid_attempt')
        score = body.get('score')
        if isinstance(score, bool) or not isinstance(score, (int, float)) \
                or not 0 <= score <= 1:
            raise ApiError(400, _("score is a number from 0 to 1."),
                           code='invalid_score')
        comment = _text(body.get('comment'), COMMENT_LENGTH,
                        _("Write a comment of at most %(max)d characters "
                          "for the learner.", max=COMMENT_LENGTH[1]),
                        'invalid_comment')
        try:
            decision = GradingReview(self.env).decide(
                call.sub, ticket_id, attempt, float(score), comment)
        except decisions.AttemptNotFound:
            raise ApiError(404, _("No attempt %(n)d of concept "
                                  "%(ticket)d.", n=attempt,
                                  ticket=ticket_id), code='no_such_attempt')
        except decisions.AlreadyDecided:
            raise ApiError(409, _("This attempt was decided already."),
                           code='already_decided')
        return 201, {'ticket_id': decision.ticket_id,
                     'attempt': decision.attempt,
                     'decision_attempt': decision.decision_attempt,
                     'score': decision.score, 'status': decision.status,
                     'ticket_status': decision.ticket_status,
                     'grader': decision.grader}

    # Internal methods

    def _own_concept(self, sub, ticket_id):
        concept = StudyLoop(self.env).concept(sub, ticket_id)
        if concept is None:
            raise ApiError(404, _("No such concept."))
        return concept.ticket_id

    @staticmethod
    def _instructor(req):
        if 'LEARNING_ADMIN' not in req.perm:
            raise ApiError(403, _("Only an instructor (LEARNING_ADMIN) may "
                                  "review grades."), code='forbidden')
