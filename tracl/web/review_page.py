"""The review session, `/learning/review`: the signed-in learner's concepts
due for review now, asked one at a time.

The page carries its queue (each due concept's name, subject, question and
how overdue it is, the most overdue first) as JSON in a
`<script type="application/json">` block; `js/review_session.js` asks the
questions in turn, sends each answer to the submit-answer API with the
page's CSRF token, shows the result (recalled, or forgotten and back
tomorrow, with the next review) and ends with a summary of the session and
the next review still to come (`GET /api/v1/reviews?until=` a year ahead).

Only the learner's own cards are read (`Retention.due`), so another
learner's concepts never reach the page. With nothing due the page says
when the next review is, and links back to My learning.

Times are shown as Trac shows them: `when()` gives the relative time
("in 3 days", as Trac's `pretty_timedelta`) with the absolute one in the
learner's time zone and format (`user_time`) as its title.
"""

from datetime import timedelta

from trac.core import Component, implements
from trac.util.datefmt import (format_date, format_datetime,
                               pretty_timedelta, user_time)
from trac.util.html import Markup, tag
from trac.util.presentation import to_json
from trac.util.translation import _
from trac.web.api import IRequestHandler
from trac.web.chrome import (INavigationContributor, add_ctxtnav,
                             add_script, add_script_data, add_stylesheet)

from tracl.clock import LearningClock
from tracl.model import reviews
from tracl.study.loop import MAX_ANSWER, MIN_ANSWER, StudyLoop
from tracl.study.retention import Retention
from tracl.util import iso
from tracl.web.api import API_PREFIX
from tracl.web.times import TIMES_PATH

#: How far ahead the page looks for the next review (the reviews API's
#: horizon is a year).
NEXT_REVIEW_HORIZON = timedelta(days=365)

#: A due time closer to now than this reads "due now".
DUE_NOW = timedelta(minutes=1)


#: Most concepts one review session asks.
SESSION_SIZE = 50


def review_href(href):
    """The URL of the review session, built with `href`."""
    return href.learning('review')


def when(req, date, now):
    """`date` as the review pages show it: relative to `now` ("in 3 days",
    "2 hours ago") in a `<time>` whose title is the absolute time in the
    learner's zone and format."""
    relative = pretty_timedelta(date, now)
    label = _("in %(relative)s", relative=relative) if date > now \
        else _("%(relative)s ago", relative=relative)
    return tag.time(label, datetime=iso(date),
                    title=user_time(req, format_datetime, date))


def due_text(due, now):
    """How a due concept's time reads at `now`: "3 days overdue", "due
    now" or "due in 4 hours"."""
    if abs(now - due) < DUE_NOW:
        return _("due now")
    if due < now:
        return _("%(relative)s overdue", relative=pretty_timedelta(due, now))
    return _("due in %(relative)s", relative=pretty_timedelta(due, now))


def due_label(req, due, now):
    """`due_text` in a `<time>` whose title is the absolute time."""
    return tag.time(due_text(due, now), datetime=iso(due),
                    title=user_time(req, format_datetime, due))


def next_review(env, sub, now):
    """`sub`'s earliest review after `now` within a year (a `DueConcept`),
    or None."""
    later = reviews.due_concepts(env, sub, now + NEXT_REVIEW_HORIZON,
                                 limit=1, after=now)
    return later[0] if later else None


def script_json(value):
    """`value` as JSON to place inside a `<script type="application/json">`
    element: Trac's `to_json` writes `<`, `>` and `&` as `\\u003c`-style
    escapes, so no text of it can close the element or open a comment,
    and non-ASCII comes out escaped too; `JSON.parse` reads it back
    unchanged. Markup, so that autoescape does not turn its quotes into
    entities (a script element's text is not decoded)."""
    return Markup(to_json(value))


class ReviewPage(Component):
    """The learner's review session: due concepts, one at a time."""

    implements(INavigationContributor, IRequestHandler)

    # INavigationContributor methods

    def get_active_navigation_item(self, req):
        return 'learning'

    def get_navigation_items(self, req):
        return []  # "Learning" is My learning's (tracl.web.learning)

    # IRequestHandler methods

    def match_request(self, req):
        return req.path_info in ('/learning/review', '/learning/review/')

    def process_request(self, req):
        if not req.is_authenticated:
            req.redirect(req.href.login(referer=req.href(req.path_info)))
        sub = req.authname
        now = LearningClock(self.env).now()
        queue = self._queue(req, sub, now)
        following = None if queue else next_review(self.env, sub, now)
        add_stylesheet(req, 'tracl/css/tracl.css')
        add_ctxtnav(req, _("My learning"), req.href.learning())
        data = {
            'queue': queue,
            'queue_json': script_json(queue),
            'next_review': following,
            'next_date': user_time(req, format_date, following.card.due)
                         if following else None,
            'next_when': when(req, following.card.due, now)
                         if following else None,
            'learning_href': req.href.learning(),
            'min_answer': MIN_ANSWER, 'max_answer': MAX_ANSWER,
        }
        if queue:
            add_script(req, 'tracl/js/page_errors.js')
            add_script(req, 'tracl/js/page_helpers.js')
            add_script(req, 'tracl/js/review_session.js')
            add_script_data(req, tracl_review=self._settings(req, now))
        return 'tracl_review.html', data

    # Internal methods

    def _queue(self, req, sub, now):
        """`sub`'s concepts due now as the page asks them, the most overdue
        first: name, subject, question, how overdue and the API to answer
        through."""
        loop, retention = StudyLoop(self.env), Retention(self.env)
        queue = []
        # One session asks at most SESSION_SIZE: the rest wait for the
        # next session, most overdue first.
        for item in reviews.due_concepts(self.env, sub, now,
                                         limit=SESSION_SIZE):
            concept = loop.concept(sub, item.ticket_id)
            if concept is None:
                continue
            due = item.card.due
            queue.append({
                'ticket_id': concept.ticket_id,
                'concept': concept.concept,
                'subject': concept.subject or '',
                'question': concept.question or '',
                'question_id': concept.question_id,
                'relearning': item.card.state == reviews.RELEARNING,
                'due': iso(due),
                'overdue': due_text(due, now),
                'overdue_title': user_time(req, format_datetime, due),
                'recall_percent': int(round(100 * retention.retrievability(
                    sub, item.card, now))),
                'href': req.href.ticket(concept.ticket_id),
                'submit_url': req.href(API_PREFIX.lstrip('/'), 'progress',
                                       concept.ticket_id, 'submit-answer'),
            })
        return queue

    def _settings(self, req, now):
        """The page script's data: where to send answers, the CSRF token,
        the server's now, the time zone and the sentences it shows."""
        tz = getattr(req, 'tz', None)
        return {
            'api_url': req.href(API_PREFIX.lstrip('/')),
            'form_token': req.form_token,
            'now': iso(now),
            # Where the next review after the session is read from.
            'next_url': req.href(API_PREFIX.lstrip('/'), 'reviews',
                                 until=iso(now + NEXT_REVIEW_HORIZON)),
            'time_zone': getattr(tz, 'zone', None) or 'UTC',
            # Where a time the script adds is written as the page's are.
            'times_url': req.href(TIMES_PATH.lstrip('/')),
            'learning_url': req.href.learning(),
            'min_answer': MIN_ANSWER, 'max_answer': MAX_ANSWER,
            'messages': self._messages(),
        }

    @staticmethod
    def _messages():
        """The sentences the page's script shows, translated here."""
        def units(singular, plural):
            return [singular, plural]
        return {
            'position': _("%(n)s of %(total)s"),
            'recall': _("Recall now: %(percent)s%%"),
            'count': _("%(count)s / %(max)s characters"),
            'too_short': _("Write at least %(min)s characters.",
                           min=MIN_ANSWER),
            'too_long': _("Keep your answer to %(max)s characters.",
                          max=MAX_ANSWER),
            'submit': _("Submit answer"),
            'grading': _("Grading\u2026"),
            'grading_status': _("Grading your answer\u2026"),
            'score': _("Score: %(percent)s%%"),
            'feedback': _("Feedback"),
            'recalled': _("Recalled"),
            'forgotten': _("Forgotten \u2014 you will see it again "
                           "tomorrow"),
            'practice': _("Not due any more: recorded as practice, its "
                          "schedule stays."),
            'next_due': _("Next review %(when)s"),
            'follow_up': _("The grader asks one more question about this "
                           "answer: reply on the concept's page."),
            'open_concept': _("Open the concept"),
            'next': _("Next concept"),
            'finish': _("See the summary"),
            'next_help': _("Enter goes on."),
            'summary': _("Session complete"),
            'reviewed': units(_("%(num)s concept reviewed"),
                                    _("%(num)s concepts reviewed")),
            'recalled_count': _("Recalled: %(n)s"),
            'lapsed_count': _("Forgotten: %(n)s"),
            'next_review': _("Next review %(when)s"),
            'next_loading': _("Looking up your next review\u2026"),
            'nothing_scheduled': _("No review is scheduled within a year."),
            'next_unknown': _("Your next review could not be looked up: "
                              "see My learning."),
            'back': _("Back to My learning"),
            'in': _("in %(relative)s"),
            'ago': _("%(relative)s ago"),
            'second': units(_("%(num)s second"), _("%(num)s seconds")),
            'minute': units(_("%(num)s minute"), _("%(num)s minutes")),
            'hour': units(_("%(num)s hour"), _("%(num)s hours")),
            'day': units(_("%(num)s day"), _("%(num)s days")),
            'week': units(_("%(num)s week"), _("%(num)s weeks")),
            'month': units(_("%(num)s month"), _("%(num)s months")),
            'year': units(_("%(num)s year"), _("%(num)s years")),
            'network_error': _("The server could not be reached: check your "
                               "connection and try again. Your answer is "
                               "still here."),
            'server_error': _("The server answered with an error (HTTP "
                              "%(status)s): please try again."),
            'rate_limited': _("Too many requests: wait %(seconds)s seconds "
                              "and try again."),
        }
