"""The learner's home in Trac: `/learning`, "My learning".

It says what TracLearn is and lists the signed-in learner's paths with their
progress, each linked to its page (`tracl.web.path_page`); a learner
without a path is sent to the start page's query box; one with paths
may download their concepts as an Anki deck. It is also the
plugin's template and static file provider.

Its "Reviews" section counts the concepts due today: due now, or later
before midnight of the learner's day in their Trac time zone (their
session's `tz`, else the server's), and lists them the most overdue first
(name linked to the concept, subject, how overdue, how likely the learner
recalls it now), with a link to the review session
(`tracl.web.review_page`) while any is due now. The review schedule below
gives every concept with a review card (mastered, or lapsed and being
learnt again) its next review. Times read as on the review page
(`review_page.when`, `due_label`): relative, the absolute time in the
learner's format as the title.

Its "Your data" section links the download of everything TracLearn keeps
of the learner (`GET /api/v1/me/data`) and holds the form that deletes it
(`tracl.model.learner_data`): a POST to this page with Trac's form token
(CSRF) and the confirmation box ticked; the page then says what went.
"""

from datetime import datetime, timedelta

from trac.core import Component, implements
from trac.util.datefmt import format_date, localtz, to_datetime, user_time
from trac.util.html import tag
from trac.util.translation import _
from trac.web.api import IRequestHandler
from trac.web.chrome import (INavigationContributor, ITemplateProvider,
                             add_notice, add_script, add_stylesheet,
                             add_warning)

from tracl.clock import LearningClock
from tracl.model import learner_data, path_summaries, reviews
from tracl.study.retention import Retention
from tracl.web.export_api import anki_href, learner_data_href
from tracl.web.macros import query_box_href
from tracl.web.path_page import path_href
from tracl.web.resources import resource_dir
from tracl.web.review_page import due_label, review_href, when

#: How far ahead the review schedule looks: every card.
SCHEDULE_HORIZON = timedelta(days=100 * 366)


def end_of_day(now, tz):
    """The next midnight after `now` in time zone `tz`."""
    local = now.astimezone(tz)
    return to_datetime(datetime(local.year, local.month, local.day) +
                       timedelta(days=1), tz)


class LearningModule(Component):
    """The "My learning" page and TracLearn's templates and static files."""

    implements(INavigationContributor, IRequestHandler, ITemplateProvider)

    # INavigationContributor methods

    def get_active_navigation_item(self, req):
        return 'learning'

    def get_navigation_items(self, req):
        yield ('mainnav', 'learning',
               tag.a(_("Learning"), href=req.href.learning()))

    # IRequestHandler methods

    def match_request(self, req):
        return req.path_info in ('/learning', '/learning/')

    def process_request(self, req):
        signed_in = req.is_authenticated
        if req.method == 'POST' and signed_in and \
                'delete_learning_data' in req.args:
            self._delete_data(req)
        paths = path_summaries(self.env, req.authname) if signed_in else []
        data = {
            'signed_in': signed_in,
            'paths': paths,
            'path_hrefs': {p.path_id: path_href(req.href, p.path_id)
                           for p in paths},
            # The start page's query box, not a page that links back here.
            'start_href': query_box_href(req),
            # The learner's concepts as an Anki deck (tracl.web.export_api).
            'anki_href': anki_href(req.href),
            # Everything TracLearn keeps of the learner, to take or delete.
            'data_href': learner_data_href(req.href),
            'form_token': req.form_token,
        }
        data.update(self._reviews(req) if signed_in else {'reviews': None})
        add_stylesheet(req, 'tracl/css/tracl.css')
        if signed_in:
            add_script(req, 'tracl/js/learner_data.js')
        return 'tracl_learning.html', data

    def _delete_data(self, req):
        """Delete the learner's learning data when the form confirms it
        (Trac has checked its form token), then come back here saying
        what went."""
        if req.args.getfirst('confirm') != 'yes':
            add_warning(req, _("Nothing was deleted: tick the box to "
                               "confirm that you want your learning data "
                               "deleted."))
            req.redirect(req.href.learning() + '#tracl-data')
        deleted = learner_data.delete_learner_data(self.env, req.authname)
        self.log.info("Learner %s deleted their learning data: %d "
                      "concepts, %d paths, %d attempts", req.authname,
                      deleted.concepts, deleted.paths, deleted.attempts)
        add_notice(req, _("Your learning data was deleted (learning "
                          "paths: %(paths)d, concepts: %(concepts)d, "
                          "answers: %(attempts)d).",
                          concepts=deleted.concepts, paths=deleted.paths,
                          attempts=deleted.attempts))
        req.redirect(req.href.learning())

    def _reviews(self, req):
        """The "Reviews" section's data: `reviews` with `due` (the concepts
        due by the end of the learner's day, the most overdue first),
        `due_now` (how many of them are due now), `schedule` (every card,
        soonest first), `today` (the learner's date) and `review_href`;
        each concept with its `href`, `subject`, `due` and `recall`
        (percent)."""
        sub, now = req.authname, LearningClock(self.env).now()
        retention = Retention(self.env)
        tz = getattr(req, 'tz', None) or localtz
        today_ends = end_of_day(now, tz)
        schedule = []
        for item in reviews.due_concepts(self.env, sub,
                                         now + SCHEDULE_HORIZON):
            card = item.card
            schedule.append({
                'concept': item.concept, 'subject': item.subject or '',
                'href': req.href.ticket(item.ticket_id),
                'due': card.due, 'due_now': card.due <= now,
                'today': card.due < today_ends,
                'relearning': card.state == reviews.RELEARNING,
                'due_label': due_label(req, card.due, now),
                'next_date': user_time(req, format_date, card.due),
                'when': when(req, card.due, now),
                'recall': int(round(100 * retention.retrievability(
                    sub, card, now))),
                'reviews': card.reviews, 'lapses': card.lapses})
        due = [item for item in schedule if item['today']]
        return {'reviews': {
            'due': due,
            'due_now': sum(1 for item in due if item['due_now']),
            'schedule': schedule,
            'today': user_time(req, format_date, now),
            'review_href': review_href(req.href)}}

    # ITemplateProvider methods

    def get_htdocs_dirs(self):
        return [('tracl', resource_dir('htdocs'))]

    def get_templates_dirs(self):
        return [resource_dir('templates')]
