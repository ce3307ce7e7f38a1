"""The "Learning" section of Trac's admin (`/admin/learning`), for
LEARNING_ADMIN only:

- *Grading queue*: the disputed and uncertain attempts, oldest first, each
  with the question asked, its key points, the learner's answer and what
  the grade rests on, and a form to confirm the grade or set another
  score (`tracl.study.review.GradingReview.decide`; the first decision
  wins);
- *Learners*: every learner by name with their paths, concepts, mastered
  and studying counts and last activity, linking to their knowledge graph,
  their concepts and their items in the queue;
- *Corpus*: the chunk store's subjects and chunks, the questions per
  chunk, and the grader with its version.

Learners appear by name, never by their `sub` (which only links and form
fields carry); their private notes are never read. Every text from
learners, chunks and language models is rendered autoescaped.
"""

import math

from trac.admin.api import IAdminPanelProvider
from trac.core import Component, implements
from trac.util.datefmt import from_utimestamp
from trac.util.text import exception_to_unicode
from trac.util.translation import _
from trac.web.api import HTTPNotFound
from trac.web.chrome import (add_notice, add_script, add_script_data,
                             add_stylesheet, add_warning)

from tracl.auth.names import person_name
from tracl.auth.permissions import ADMIN
from tracl.llm import LearningLLM
from tracl.model import decisions
from tracl.model.learners import (LEARNERS_PAGE_SIZE, attempt_details,
                                  concept_subjects,
                                  learners_page, queue_learners,
                                  question_spread)
from tracl.search import LearningChunkStore
from tracl.study.loop import StudyLoop
from tracl.study.review import COMMENT_LENGTH, GradingReview
from tracl.web.labels import confidence_labels, point_labels

CATEGORY = 'learning'
QUEUE, LEARNERS, CORPUS = 'queue', 'learners', 'corpus'

#: The queue's filters, kept across a decision.
QUEUE_FILTERS = ('subject', 'learner', 'kind', 'after')


def percent(score):
    """A score (0..1) as a whole percentage."""
    return None if score is None else int(round(float(score) * 100))


def parse_percent(text):
    """The score (0..1) of a percentage typed in the form, or None when
    it is not a number from 0 to 100."""
    text = (text or '').strip().rstrip('%').strip().replace(',', '.')
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not 0 <= value <= 100:
        return None
    return value / 100


def _positive_int(text):
    text = (text or '').strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


class LearningAdminPanel(Component):
    """The grading queue, the learners and the corpus in Trac's admin."""

    implements(IAdminPanelProvider)

    # IAdminPanelProvider methods

    def get_admin_panels(self, req):
        if ADMIN in req.perm:
            label = _("Learning")
            yield CATEGORY, label, QUEUE, _("Grading queue")
            yield CATEGORY, label, LEARNERS, _("Learners")
            yield CATEGORY, label, CORPUS, _("Corpus")

    def render_admin_panel(self, req, cat, page, path_info):
        req.perm.require(ADMIN)
        if path_info:
            raise HTTPNotFound(_("No such page."))
        add_stylesheet(req, 'tracl/css/tracl_admin.css')
        if page == QUEUE:
            return self._queue_panel(req)
        if page == LEARNERS:
            return self._learners_panel(req)
        if page == CORPUS:
            return self._corpus_panel(req)
        raise HTTPNotFound(_("Unknown administration panel"))

    # The grading queue

    def _queue_panel(self, req):
        filters = self._queue_filters(req)
        entered = None
        if req.method == 'POST':
            entered = self._decide(req, filters)
        review = GradingReview(self.env)
        size = review.queue_page_size
        after = decisions.parse_cursor(filters['after']) \
            if filters['after'] else None
        items = review.queue(filters['subject'], filters['learner'],
                             filters['kind'], size + 1, after)
        more = len(items) > size
        items = items[:size]
        details = attempt_details(self.env, [(i.ticket_id, i.attempt)
                                             for i in items])
        learners = queue_learners(self.env)
        if filters['learner'] and \
                filters['learner'] not in dict(learners):
            learners.insert(0, (filters['learner'],
                                person_name(self.env, filters['learner'])))
        add_script(req, 'tracl/js/page_errors.js')
        add_script(req, 'tracl/js/admin_queue.js')
        add_script_data(req, tracl_admin_queue={
            'count': _("%(count)s / %(max)s characters"),
            'max': COMMENT_LENGTH[1]})
        return 'tracl_admin_queue.html', {
            'items': [self._item(req, item, details.get(
                (item.ticket_id, item.attempt)), entered) for item in items],
            'filters': filters,
            'subjects': concept_subjects(self.env),
            'learners': learners,
            'kinds': [(kind, self._kind_labels()[kind])
                      for kind in decisions.QUEUE_KINDS],
            'next_href': self._queue_href(req, filters, after=items[-1].cursor)
                         if more and items else None,
            'first_href': self._queue_href(req, filters, after=None)
                          if filters['after'] else None,
            'filtered': any(filters[k] for k in ('subject', 'learner',
                                                 'kind')),
            'page_size': size,
            'comment_max': COMMENT_LENGTH[1],
        }

    def _queue_filters(self, req):
        """The queue's filters of the request; those that make no sense
        are dropped with a warning."""
        args = req.args
        filters = {name: (args.getfirst(name) or '').strip() or None
                   for name in QUEUE_FILTERS}
        if filters['kind'] and filters['kind'] not in decisions.QUEUE_KINDS:
            add_warning(req, _("The queue has disputed and uncertain "
                               "items only; showing both."))
            filters['kind'] = None
        if filters['after'] and \
                decisions.parse_cursor(filters['after']) is None:
            add_warning(req, _("That page of the queue does not exist; "
                               "showing the oldest items."))
            filters['after'] = None
        return filters

    def _queue_href(self, req, filters, **changes):
        query = dict(filters, **changes)
        return req.href.admin(CATEGORY, QUEUE,
                              **{k: v for k, v in query.items() if v})

    def _decide(self, req, filters):
        """Record the decision the form posted, then go back to the queue
        (with a notice); on a problem, add a warning and return what was
        typed, to show again (`{'key', 'score', 'comment'}`), or None."""
        ticket_id = _positive_int(req.args.getfirst('ticket_id'))
        attempt = _positive_int(req.args.getfirst('attempt'))
        if ticket_id is None or attempt is None:
            add_warning(req, _("The form does not say which attempt to "
                               "decide; nothing was changed."))
            return None
        comment = (req.args.getfirst('comment') or '').strip()
        score_text = (req.args.getfirst('score') or '').strip()
        entered = {'key': (ticket_id, attempt), 'score': score_text,
                   'comment': comment}
        valid = True
        if not COMMENT_LENGTH[0] <= len(comment) <= COMMENT_LENGTH[1]:
            add_warning(req, _("Write a comment for the learner of "
                               "%(min)d to %(max)d characters; nothing was "
                               "changed.", min=COMMENT_LENGTH[0],
                               max=COMMENT_LENGTH[1]))
            valid = False
        if 'confirm' in req.args:
            detail = attempt_details(self.env, [(ticket_id, attempt)]) \
                .get((ticket_id, attempt))
            if detail is None:
                add_warning(req, _("Concept #%(ticket)d has no attempt "
                                   "%(n)d; nothing was changed.",
                                   ticket=ticket_id, n=attempt))
                return None
            score = detail.score
        else:
            score = parse_percent(score_text)
            if score is None:
                add_warning(req, _("The score is a number from 0 to 100 "
                                   "(percent); nothing was changed."))
                valid = False
        if not valid:
            return entered
        try:
            decision = GradingReview(self.env).decide(
                req.authname, ticket_id, attempt, score, comment)
        except decisions.AlreadyDecided:
            add_warning(req, _("Attempt %(n)d of concept #%(ticket)d was "
                               "decided already: the first decision stands "
                               "and nothing was changed.", n=attempt,
                               ticket=ticket_id))
            return None
        except decisions.AttemptNotFound:
            add_warning(req, _("Concept #%(ticket)d has no attempt %(n)d; "
                               "nothing was changed.", ticket=ticket_id,
                               n=attempt))
            return None
        concept = self._concept_name(ticket_id)
        if decision.status == 'mastered':
            add_notice(req, _("Decided: %(concept)s (attempt %(n)d) now "
                              "scores %(score)d%%; the concept is "
                              "mastered.", concept=concept, n=attempt,
                              score=percent(score)))
        else:
            add_notice(req, _("Decided: %(concept)s (attempt %(n)d) now "
                              "scores %(score)d%%; the concept is not "
                              "mastered.", concept=concept, n=attempt,
                              score=percent(score)))
        req.redirect(self._queue_href(req, filters))

    def _concept_name(self, ticket_id):
        for summary, in self.env.db_query(
                "SELECT summary FROM ticket WHERE id=%s", (ticket_id,)):
            return summary
        return '#%d' % ticket_id

    def _item(self, req, item, detail, entered):
        """A queue item as the template shows it."""
        key = (item.ticket_id, item.attempt)
        form = {'score': percent(item.score), 'comment': ''}
        if entered and entered['key'] == key:
            form = {'score': entered['score'], 'comment': entered['comment']}
        evidence = detail.evidence if detail else None
        return {
            'id': 'tracl-item-%d-%d' % key,
            'ticket_id': item.ticket_id,
            'attempt': item.attempt,
            'learner': item.learner,
            'concept': item.concept,
            'concept_href': req.href.ticket(item.ticket_id),
            'subject': item.subject,
            'kind': item.kind,
            'kind_label': self._kind_labels()[item.kind],
            'reason': item.reason,
            'percent': percent(item.score),
            'confidence': item.confidence,
            'confidence_label': confidence_labels().get(
                item.confidence, _("not stated")),
            'created': item.created_at,
            'question': detail.question if detail else '',
            'key_points': detail.key_points if detail else [],
            'answer': detail.answer if detail else '',
            'points': self._rubric_points(detail),
            'errors': list(evidence.errors) if evidence else [],
            'form': form,
        }

    def _rubric_points(self, detail):
        """The key points of the attempt's question as the grade judged
        them (status and the concept's text they rest on), then those of
        the rubric the grade did not judge."""
        if detail is None:
            return []
        labels = point_labels()
        points = [{'point': p.point, 'status': p.status,
                   'status_label': labels.get(p.status, p.status),
                   'source': p.source} for p in detail.evidence.points]
        judged = {p['point'] for p in points}
        points.extend({'point': point, 'status': 'unjudged',
                       'status_label': _("Not judged"), 'source': ''}
                      for point in detail.key_points if point not in judged)
        return points

    @staticmethod
    def _kind_labels():
        return {'disputed': _("disputed"), 'uncertain': _("uncertain")}


    # Learners

    def _learners_panel(self, req):
        page = _positive_int(req.args.getfirst('page')) or 1
        found = learners_page(self.env, page, LEARNERS_PAGE_SIZE)
        pages = max(1, -(-found.total // LEARNERS_PAGE_SIZE))
        if page > pages:
            add_warning(req, _("There are %(pages)d pages of learners; "
                               "showing the last.", pages=pages))
            page = pages
            found = learners_page(self.env, page, LEARNERS_PAGE_SIZE)
        learners = [{
            'name': row.name,
            'concepts': row.concepts,
            'paths': row.paths,
            'mastered': row.mastered,
            'studying': row.studying,
            'last_activity': from_utimestamp(row.last_activity)
                             if row.last_activity else None,
            'graph_href': req.href('learning/graph.png', user=row.sub),
            'concepts_href': req.href.query(type='learning_concept',
                                            owner=row.sub),
            'queue_href': req.href.admin(CATEGORY, QUEUE, learner=row.sub),
        } for row in found.learners]
        first = (page - 1) * LEARNERS_PAGE_SIZE + 1
        return 'tracl_admin_learners.html', {
            'learners': learners,
            'total': found.total,
            'page': page,
            'pages': pages,
            'first': first,
            'last': first + len(learners) - 1,
            'prev_href': req.href.admin(CATEGORY, LEARNERS, page=page - 1)
                         if page > 1 else None,
            'next_href': req.href.admin(CATEGORY, LEARNERS, page=page + 1)
                         if page < pages else None,
        }

    # The corpus

    def _corpus_panel(self, req):
        store = LearningChunkStore(self.env).store
        stats, store_problem = None, None
        try:
            stats = store.stats()
        except Exception as e:
            self.log.warning("The chunk store cannot say what it holds: %s",
                             exception_to_unicode(e))
            store_problem = exception_to_unicode(e)
        try:
            store_description = store.describe()
        except Exception as e:
            store_description = exception_to_unicode(e)
        grader, grader_problem = None, None
        try:
            provider = LearningLLM(self.env).provider
            grader = provider.describe()
            grader_name = provider.__class__.__name__
        except Exception as e:
            self.log.warning("The grader cannot describe itself: %s",
                             exception_to_unicode(e))
            grader_problem = exception_to_unicode(e)
            grader_name = None
        subjects = sorted((stats or {}).get('subjects', {}).items())
        chunk_count = (stats or {}).get('chunks') or 0
        return 'tracl_admin_corpus.html', {
            'subjects': subjects,
            'chunk_count': chunk_count,
            'store_problem': store_problem,
            'store_description': store_description,
            'embedding_model': (stats or {}).get('embedding_model'),
            'spread': question_spread(self.env, chunk_count),
            'grader': grader,
            'grader_name': grader_name,
            'grader_problem': grader_problem,
            'threshold': percent(StudyLoop(self.env).mastery_threshold),
        }
