"""The study panel on the page of a `learning_concept` ticket: the
question, the answer box, the result of grading, the attempt history,
personal notes and study time; locked and mastered states.

Trac 1.6 renders pages with Jinja2 and has no stream filters, so the
panel cannot be spliced into `ticket.html` on the server. It is rendered
here, autoescaped, from `tracl_concept.html` and handed to the page as
script data; `concept.js` moves it after the ticket box (`#ticket`) and
drives it through the progress API. The template name stays
`ticket.html`, so other request filters keyed on it (tracopt's ticket
clone and delete buttons among them) keep working.

Only existing concept tickets change; every other ticket page is left
exactly as Trac renders it.

A mastered concept names the concept to study next in the learner's path
(`LearningPaths.next_concept`), linked: rendered here when the concept is
mastered already; when an answer masters it on the page, `concept.js`
reads the next step from the path's API (`GET /learning-paths/{id}`, whose
`next_up` is the same rule) for the path named in the script data.

The history also shows the human review of grades: the learner asks for
a review of an attempt (the disputes API), and an instructor's decision
is an attempt of its own, graded `instructor:<sub>`. The page names the
instructor (their name, else their username, else "an instructor"),
never their `sub`, and marks the attempt a decision replaced.

A concept with a review card shows its schedule (`_schedule`): the next
review and how likely the learner recalls it today (FSRS's
retrievability), or that it is due now; after a lapse, that it is studied
again. A mastered concept that is due offers the answer box for its
review, with the expected answer held back until the review is done; one
that is not due offers it folded, for practice that leaves the schedule
alone. The time is always `LearningClock`'s. Dates are in the reader's
Trac format; `concept.js` formats the dates of a new answer's `review`
with the same pattern (`date_format` in the script data).
"""

from trac.core import Component, implements
from trac.util.datefmt import (format_date, format_datetime,
                               get_date_format_jquery_ui,
                               get_month_names_jquery_ui)
from trac.util.translation import _, ngettext
from trac.web.api import IRequestFilter
from trac.web.chrome import (Chrome, add_script, add_script_data,
                             add_stylesheet)

from tracl.auth.names import person_name
from tracl.auth.permissions import ADMIN
from tracl.auth.profile import LearnerProfiles
from tracl.clock import LearningClock
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.concepts import load_concept
from tracl.model.decisions import INSTRUCTOR_GRADER
from tracl.model.follow_ups import current_follow_up
from tracl.model.paths import paths_holding
from tracl.model.prerequisites import dependents_of, prerequisites_of
from tracl.model.reviews import RELEARNING, cards
from tracl.schema import sql
from tracl.study.loop import (MAX_ANSWER, MAX_HEARTBEAT, MAX_NOTES,
                              MIN_ANSWER, StudyLoop)
from tracl.study.paths import LearningPaths
from tracl.study.retention import Retention
from tracl.study.review import REASON_LENGTH, GradingReview
from tracl.util import iso
from tracl.web.api import API_PREFIX
from tracl.web.graph import graph_fragment
from tracl.web.labels import confidence_labels, point_labels
from tracl.web.path_page import path_href
from tracl.web.times import TIMES_PATH, parse_iso

#: Fields of a concept ticket its learner may not change (the server
#: refuses such changes; the edit form does not offer them).
FIXED_FIELDS = ('type', 'milestone', 'owner', 'summary', 'description')

#: The custom fields the panel shows: the ticket box leaves them out for
#: the learner rather than showing the question twice.
QUESTION_FIELDS = ('question', 'question_difficulty', 'question_context')

#: The only workflow action a learner has on a concept: grading moves the
#: ticket, the learner comments.
LEARNER_ACTIONS = ('leave',)

#: Seconds between two heartbeats, and of inactivity after which the
#: learner no longer counts as studying.
HEARTBEAT_INTERVAL = 30
IDLE_AFTER = 120

#: The panel's states.
OPEN, LOCKED, MASTERED = 'open', 'locked', 'mastered'


def study_time(minutes):
    """`minutes` of study as a person reads it."""
    if not minutes:
        return _("none yet")
    minutes = int(round(minutes))
    if minutes < 1:
        return _("less than a minute")
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    if not minutes:
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    return _("%(hours)s %(minutes)s",
             hours=ngettext("%(num)d hour", "%(num)d hours", hours),
             minutes=ngettext("%(num)d minute", "%(num)d minutes", minutes))


def percent(score):
    return None if score is None else int(round(score * 100))


#: The prefix of an instructor's decision's grader (`instructor:<sub>`).
INSTRUCTOR_PREFIX = INSTRUCTOR_GRADER % ''


def date_format(req, now):
    """How `concept.js` writes a date as `format_date` does for `req`: the
    pattern (jQuery UI's datepicker tokens), the month names and the
    reader's time zone (its IANA name when it has one, and its offset at
    `now` in minutes)."""
    name = getattr(req.tz, 'zone', None) or getattr(req.tz, 'key', None)
    offset = now.astimezone(req.tz).utcoffset()
    return {'pattern': get_date_format_jquery_ui(req.lc_time),
            'months': get_month_names_jquery_ui(req),
            'timezone': name if name and ('/' in name or name == 'UTC')
                        else None,
            'offset': int(offset.total_seconds() // 60) if offset else 0}


class ConceptPage(Component):
    """Adds the study panel to the page of a concept ticket and keeps the
    learner's edit form to what a learner may change."""

    implements(IRequestFilter)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        return handler

    def post_process_request(self, req, template, data, metadata=None):
        if template in ('ticket.html', 'ticket_preview.html') and data:
            ticket = data.get('ticket')
            if ticket is not None and ticket.exists and \
                    ticket._old.get('type', ticket['type']) == \
                    CONCEPT_TICKET_TYPE and \
                    'TICKET_VIEW' in req.perm(ticket.resource):
                self._concept_page(req, template, data, ticket.id)
        return template, data, metadata

    # Internal methods

    def _concept_page(self, req, template, data, ticket_id):
        loop = StudyLoop(self.env)
        concept = loop.concept(req.authname, ticket_id)
        read_only = concept is None
        if read_only:
            # Someone else's concept: only LEARNING_ADMIN gets here (the
            # policy answers 404 to the others), and reads it.
            if ADMIN not in req.perm:
                return
            concept = load_concept(self.env, ticket_id)
            if concept is None:
                return
        else:
            # The learner's own concept: what they may not change leaves
            # the form, unless they administer learning anyway.
            if ADMIN not in req.perm:
                self._restrict_form(data)
        if template == 'ticket.html':
            self._add_panel(req, loop, concept, read_only)

    def _restrict_form(self, data):
        for field in data.get('fields') or []:
            if field['name'] in QUESTION_FIELDS:
                field['skip'] = True
            elif field['name'] in FIXED_FIELDS:
                field['editable'] = False
        controls = data.get('action_controls')
        if controls is not None:
            data['action_controls'] = [c for c in controls
                                       if c[0] in LEARNER_ACTIONS]
            if data['action_controls']:
                data['action'] = data['action_controls'][0][0]

    def _add_panel(self, req, loop, concept, read_only):
        sub = concept.owner
        progress = loop.progress(sub, concept.ticket_id)
        # Empty for a mastered concept: the lock rule never locks one.
        blockers = loop.blockers(sub, concept.ticket_id)
        if progress['status'] == 'mastered':
            state = MASTERED
        elif blockers:
            state = LOCKED
        else:
            state = OPEN
        now = LearningClock(self.env).now()
        schedule = self._schedule(req, sub, concept.ticket_id,
                                  progress['status'], now)
        review = self._review(sub, concept.ticket_id, progress['attempts'])
        attempts = [dict(a, created=parse_iso(a['created_at']),
                         percent=percent(a['score']),
                         **review['attempts'][a['attempt']])
                    for a in progress['attempts']]
        # The close call's follow-up still to answer: the owner's alone.
        follow_up = None
        if not read_only and state == OPEN:
            found = current_follow_up(self.env, sub, concept.ticket_id)
            if found:
                follow_up = {'id': found[0], 'question': found[1]}
        # What to study next: the owner's alone.
        next_concept = study_path = None
        if not read_only:
            study_path = self._study_path(sub, concept.ticket_id)
            if state == MASTERED:
                next_concept = self._next_concept(req, sub,
                                                  concept.ticket_id)
        # Never in the page before mastery, nor while a review is due
        # (StudyLoop decides).
        answered = loop.answered_question(sub, concept) \
            if state == MASTERED else None
        panel_data = {
            'next_concept': next_concept,
            'follow_up': follow_up,
            'concept': concept,
            # The learner a reader (an administrator) sees the page of:
            # by name, else by Cognito username, never by sub.
            'owner_name': person_name(self.env, sub) or _("(no name)"),
            'question_id': concept.question_id,
            'state': state,
            'read_only': read_only,
            'status': progress['status'],
            'best_percent': percent(progress['best_score']),
            'threshold_percent': percent(loop.mastery_threshold),
            'study_time': study_time(progress['time_spent_minutes']),
            'attempts': attempts,
            'blockers': [dict(ticket_id=b.ticket_id, concept=b.concept,
                              status=b.status,
                              href=req.href.ticket(b.ticket_id))
                         for b in blockers],
            'expected_answer': answered[1] if answered else None,
            # The question it answers, when the concept asks another one
            # now (a review moved it on).
            'expected_question': answered[0]
                                 if answered and answered[0] !=
                                 concept.question else None,
            'schedule': schedule,
            'notes': None if read_only else progress['notes'],
            'graph': self._neighbourhood_graph(req, concept),
            'min_answer': MIN_ANSWER, 'max_answer': MAX_ANSWER,
            'max_notes': MAX_NOTES,
            'status_labels': self._status_labels(),
            'point_labels': point_labels(),
            'confidence_labels': confidence_labels(),
            'open_dispute': review['open'],
        }
        panel = Chrome(self.env).render_fragment(req, 'tracl_concept.html',
                                                 panel_data)
        add_stylesheet(req, 'tracl/css/tracl.css')
        add_script(req, 'tracl/js/page_errors.js')
        add_script(req, 'tracl/js/page_helpers.js')
        add_script(req, 'tracl/js/concept.js')
        add_script_data(req, tracl_concept={
            'panel': str(panel),
            'ticket_id': concept.ticket_id,
            # The question on the page, sent back with the answer.
            'question_id': concept.question_id,
            'state': state,
            'read_only': read_only,
            'restrict_form': not read_only and ADMIN not in req.perm,
            'api_url': req.href(API_PREFIX.lstrip('/'), 'progress',
                                concept.ticket_id),
            'ticket_url': req.href.ticket(),
            # The path whose next step follows mastery (none for a concept
            # in no path, or a reader's).
            'path_api_url': req.href(API_PREFIX.lstrip('/'),
                                     'learning-paths', study_path)
                            if study_path else None,
            'form_token': req.form_token,
            'min_answer': MIN_ANSWER, 'max_answer': MAX_ANSWER,
            'threshold': loop.mastery_threshold,
            'time_spent_minutes': progress['time_spent_minutes'],
            'heartbeat_interval': HEARTBEAT_INTERVAL,
            'idle_after': IDLE_AFTER,
            'max_heartbeat': MAX_HEARTBEAT,
            'expected_answer_on_mastery': bool(loop.show_expected_answer),
            'messages': self._messages(loop),
            # The review of grades: the open dispute (`{id, attempt,
            # reason}` or null), the attempts reviewed at the learner's
            # request, which attempt replaced which, and the names of the
            # instructors who graded, by attempt (never their sub).
            'min_reason': REASON_LENGTH[0], 'max_reason': REASON_LENGTH[1],
            'dispute': review['open'],
            'reviewed': review['reviewed'],
            'overridden': review['overridden'],
            'grader_names': review['names'],
            # Where a new attempt's time is written as the page writes
            # the others (the reader's date preferences).
            'times_url': req.href(TIMES_PATH.lstrip('/')),
            # The review schedule (`due` ISO, `due_now`), and how the
            # script writes the dates of a new answer's `review`.
            'review': {'due': schedule['due_iso'],
                       'due_now': schedule['due_now']} if schedule else None,
            'date_format': date_format(req, now),
        })

    def _schedule(self, req, sub, ticket_id, status, now):
        """The review schedule of `sub`'s concept as the panel shows it, or
        None before its first mastery:

        - `due`, `due_iso`, `due_date`, `due_datetime`: its next review
          (the time, ISO, and in the reader's format);
        - `due_now`: mastered and due at `now`; `overdue`: due since a
          day before today (the panel then says since when);
        - `recall_percent`: how likely `sub` recalls it now (FSRS's
          retrievability), for a mastered concept;
        - `lapsed`: forgotten at a review and studied again (the card
          relearns, the progress is no longer mastered).
        """
        card = cards(self.env, sub, [ticket_id]).get(ticket_id)
        if card is None:
            return None
        mastered = status == 'mastered'
        due_now = mastered and card.due <= now
        today = now.astimezone(req.tz).date()
        recall = Retention(self.env).retrievability(sub, card, now) \
            if mastered else None
        return {'due': card.due, 'due_iso': iso(card.due),
                'due_date': format_date(card.due, tzinfo=req.tz,
                                        locale=req.lc_time),
                'due_datetime': format_datetime(card.due, tzinfo=req.tz,
                                                locale=req.lc_time),
                'due_now': due_now,
                'overdue': due_now and
                           card.due.astimezone(req.tz).date() < today,
                'recall_percent': percent(recall),
                'lapsed': not mastered and card.state == RELEARNING}

    def _next_concept(self, req, sub, ticket_id):
        """The concept `sub` studies after `ticket_id` as the panel shows
        it (`concept`, `href`, `path_href`), or None."""
        following = LearningPaths(self.env).next_concept(sub, ticket_id)
        if not following:
            return None
        return {'concept': following['concept'],
                'href': req.href.ticket(following['ticket_id']),
                'path_href': path_href(req.href, following['path_id'])}

    def _study_path(self, sub, ticket_id):
        """The path whose next step the page offers once the concept is
        mastered: the learner's active path when it holds the concept,
        else their newest path holding it; None when no path does."""
        holding = paths_holding(self.env, sub, ticket_id)
        active = LearningPaths(self.env).active_path(sub)
        if active in holding:
            return active
        return holding[0] if holding else None

    def _review(self, sub, ticket_id, attempts):
        """What the human review of grades says of `sub`'s `attempts`:

        - `attempts`: by attempt number, `decision` (an instructor's
          grade), `grader_name` (the instructor's name for a decision),
          `overridden_by` (the number of the decision that replaced it),
          `dispute` (the open dispute on it), `reviewed` (a dispute on it
          was decided) and `disputable`;
        - `open`: the concept's open dispute as `{id, attempt, reason}`, or
          None (one at most);
        - `reviewed`, `overridden`, `names`: the same for the page's script
          (keys are strings, as in JSON).
        """
        overridden = {}
        with self.env.db_query as db:
            for number, by in db(sql(self.env, """
                    SELECT attempt, overridden_by FROM {attempts}
                    WHERE cognito_user_id=%s AND ticket_id=%s"""),
                    (sub, ticket_id)):
                if by is not None:
                    overridden[int(number)] = int(by)
        open_dispute, reviewed = None, set()
        for dispute in GradingReview(self.env).disputes(sub, ticket_id):
            if dispute.status == 'open' and open_dispute is None:
                open_dispute = {'id': dispute.id, 'attempt': dispute.attempt,
                                'reason': dispute.reason}
            elif dispute.status == 'decided':
                reviewed.add(dispute.attempt)
        names, by_attempt = {}, {}
        for attempt in attempts:
            number = attempt['attempt']
            decision = (attempt.get('grader') or '').startswith(
                INSTRUCTOR_PREFIX)
            if decision:
                names[number] = self._instructor_name(
                    attempt['grader'][len(INSTRUCTOR_PREFIX):])
            dispute = open_dispute if open_dispute and \
                open_dispute['attempt'] == number else None
            by_attempt[number] = {
                'decision': decision, 'grader_name': names.get(number),
                'overridden_by': overridden.get(number),
                'dispute': dispute, 'reviewed': number in reviewed,
                'disputable': not decision and number not in overridden}
        return {'attempts': by_attempt, 'open': open_dispute,
                'reviewed': sorted(reviewed),
                'overridden': {str(n): by for n, by in overridden.items()},
                'names': {str(n): name for n, name in names.items()}}

    def _instructor_name(self, instructor):
        """How the page names instructor `instructor` (a `sub`): their
        name, else their username, else "an instructor"; never the sub."""
        if instructor:
            profile = LearnerProfiles(self.env).get(instructor)
            for name in (profile.get('name'), profile.get('username')):
                # The profile's username falls back to the sub itself.
                if name and name.strip() and name != instructor:
                    return name.strip()
        return _("an instructor")

    def _neighbourhood_graph(self, req, concept):
        """The small graph of the concept's prerequisites and of what it
        unlocks, or None when it has neither."""
        sub, ticket_id = concept.owner, concept.ticket_id
        if not prerequisites_of(self.env, sub, ticket_id) and \
                not dependents_of(self.env, sub, ticket_id):
            return None
        return graph_fragment(self.env, req, sub, 'svg',
                              {'milestone': None, 'path_id': None,
                               'direction': 'LR'}, ticket_id=ticket_id)

    @staticmethod
    def _status_labels():
        return {'not_started': _("Not started"), 'studying': _("Studying"),
                'mastered': _("Mastered")}


    def _messages(self, loop):
        """The sentences the page's script shows, translated here."""
        return {
            'count': _("%(count)s / %(max)s characters"),
            'too_short': _("Write at least %(min)s characters.",
                           min=MIN_ANSWER),
            'too_long': _("Keep your answer to %(max)s characters.",
                          max=MAX_ANSWER),
            'grading': _("Grading\u2026"),
            'submit': _("Submit answer"),
            'grading_status': _("Grading your answer\u2026"),
            'score': _("Score: %(percent)s%%"),
            'mastered': _("Mastered! Your answer shows you understand this "
                          "concept."),
            'not_mastered': _("Not mastered yet: %(threshold)s%% is needed. "
                              "Read the feedback, revise your answer and "
                              "submit again.",
                              threshold=percent(loop.mastery_threshold)),
            'reload_expected': _("Reload the page to see the ticket closed "
                                 "and the expected answer."),
            'reload': _("Reload the page to see the ticket closed."),
            'reload_link': _("Reload now"),
            'next': _("Next:"),
            # What an answer did to the review schedule (`review.kind`).
            'review_first': _("Mastered \u2014 first review on %(date)s"),
            'review_passed': _("Recalled \u2014 next review on %(date)s"),
            'review_lapsed': _("Forgotten \u2014 you will see it again "
                               "tomorrow"),
            'review_practice': _("Practice: your schedule is unchanged "
                                 "(next review %(date)s)"),
            'review_relearned': _("Mastered again \u2014 next review on "
                                  "%(date)s"),
            'next_review': _("Next review: %(date)s"),
            'lapsed': _("Forgotten at your last review: studied again "
                        "until mastered."),
            'best': _("Best score: %(percent)s%%"),
            'locked': _("Locked: master these first"),
            'attempt': _("Attempt %(n)s"),
            'feedback': _("Feedback"),
            'graded_by': _("graded by %(grader)s"),
            'saving': _("Saving\u2026"),
            'saved': _("Notes saved."),
            'unsaved': _("Unsaved changes."),
            'network_error': _("The server could not be reached: check "
                               "your connection and try again. Your text is "
                               "still here."),
            'server_error': _("The server answered with an error (HTTP "
                              "%(status)s): please try again."),
            'rate_limited': _("Too many requests: wait %(seconds)s seconds "
                              "and try again."),
            'minute': [_("%(num)s minute"), _("%(num)s minutes")],
            'hour': [_("%(num)s hour"), _("%(num)s hours")],
            'less_than_minute': _("less than a minute"),
            'no_time': _("none yet"),
            'status': self._status_labels(),
            # What a grade rests on (the same sentences as the template's).
            'evidence': _("What the grade rests on"),
            'point': point_labels(),
            'reread': _("Reread: %(source)s"),
            'wrong': _("Wrong: %(claim)s \u2014 %(correction)s"),
            'confidence': _("Confidence: %(level)s \u2014 %(reason)s"),
            'confidence_level': _("Confidence: %(level)s."),
            'confidence_labels': confidence_labels(),
            'close_call': _("This grade could have gone the other way."),
            # The review of grades (the same sentences as the template's).
            'graded_by_instructor': _("Graded by %(name)s"),
            'an_instructor': _("an instructor"),
            'regraded': _("Regraded by an instructor: see attempt %(n)s"),
            'ask_review': _("Ask for a review"),
            'reason_label': _("Why should an instructor review this "
                              "grade?"),
            'reason_help': _("%(min)s to %(max)s characters. An instructor "
                             "reads your answer again and may change the "
                             "grade.", min=REASON_LENGTH[0],
                             max=REASON_LENGTH[1]),
            'reason_too_short': _("Write at least %(min)s characters.",
                                  min=REASON_LENGTH[0]),
            'reason_too_long': _("Keep your reason to %(max)s characters.",
                                 max=REASON_LENGTH[1]),
            'send_review': _("Submit"),
            'cancel': _("Cancel"),
            'sending': _("Sending\u2026"),
            'pending': _("Review requested \u2014 pending"),
            'your_reason': _("Your reason:"),
            'withdraw': _("Withdraw"),
            'withdrawing': _("Withdrawing\u2026"),
            'withdrawn': _("Your request was withdrawn."),
            'reviewed': _("Reviewed by an instructor"),
            # A close call's follow-up question (the same sentences as the
            # template's).
            'follow_up_heading': _("One more question"),
            'follow_up_label': _("Your reply"),
            'follow_up_help': _("At least %(min)s characters. Ctrl+Enter "
                                "sends.", min=MIN_ANSWER),
            'send_reply': _("Send reply"),
            'reply_too_long': _("Keep your reply to %(max)s characters.",
                                max=MAX_ANSWER),
            'follow_up_closed': _("This follow-up question is closed: "
                                  "answer the main question again "
                                  "instead."),
        }
