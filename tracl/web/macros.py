"""Wiki macros of TracLearn: `[[LearningPath]]`, where a learner turns a
question into a learning path without leaving the wiki page."""

from trac.util.html import tag
from trac.util.translation import _, tag_
from trac.web.chrome import add_script, add_script_data, add_stylesheet
from trac.wiki.macros import WikiMacroBase

from tracl.web.api import API_PREFIX

#: The shortest and longest query the paths API accepts (3-500
#: characters): the box refuses what the API would refuse.
MAX_QUERY_LENGTH = 500
MIN_QUERY_LENGTH = 3

#: Question difficulties a learner may ask for: the 1-5 scale of a concept's
#: question difficulty.
DIFFICULTIES = (1, 2, 3, 4, 5)
#: The select's value for "no difficulty asked for" (Trac's `tag` drops
#: empty attributes, and an option without a value submits its text).
ANY_DIFFICULTY = 'any'


#: The wiki page whose LearningPath form starts a path (the demo's start
#: page holds one; an administrator may put it on any page).
START_PAGE = 'WikiStart'


def form_anchor(number=1):
    """The id of the `number`th LearningPath form of a page: other pages
    link to `WikiStart#tracl-lp-1` to reach the start page's query box."""
    return 'tracl-lp-%d' % number


def query_box_href(req):
    """Where a page without concepts sends the learner: the start page's
    query box."""
    return req.href.wiki(START_PAGE) + '#' + form_anchor(1)


class LearningPathMacro(WikiMacroBase):
    """Start a learning path from a question, right on the wiki page.

    The macro shows a box where a signed-in learner writes what they want
    to understand. **Generate** finds the concepts that answer it and shows
    them grouped by subject, each with how relevant it is and the start of
    its text; below them, under "Foundations: needed first", the concepts
    those build on, each saying which concepts need it. Untick the
    concepts you do not want (a foundation left out no longer gates the
    concepts that need it), then **Create** makes a learning path of the
    rest: one ticket per concept, each with a question to answer in your
    own words. You then land on the path's page, which says where to
    start. Nothing on the page reloads until then.

    The first form of a page has the id `tracl-lp-1` (the second
    `tracl-lp-2`, ...): a link to `WikiStart#tracl-lp-1` leads to it and
    puts the cursor in its box.

    Visitors who are not signed in see a link to sign in instead.

    Examples:
    {{{
    [[LearningPath]]
    [[LearningPath(I want to understand blockchain technology)]]
    }}}

    The text between the parentheses, all of it (commas included), fills
    the box to start with; the learner can change it before generating.
    Queries are 3 to 500 characters long. A question difficulty from 1
    (easiest) to 5 (hardest) can be chosen in the form; by default each
    concept's own level is used.
    """

    # IWikiMacroProvider methods

    def expand_macro(self, formatter, name, content, args=None):
        req = formatter.req
        query = ' '.join((content or '').split())[:MAX_QUERY_LENGTH]
        if req is None or not req.is_authenticated:
            return self._sign_in_invitation(req)
        number = self._next_number(req)
        self._add_resources(req)
        return self._form(number, query)

    # Internal methods

    def _sign_in_invitation(self, req):
        if req is None:  # rendered outside a request: e-mail, RSS
            link = _("Sign in")
            anchor = None
        else:
            link = tag.a(_("Sign in"), href=req.href.login(
                referer=req.href(req.path_info)))
            # A link to the form leads a visitor here instead.
            anchor = form_anchor(self._next_number(req))
        return tag.div(tag_("%(sign_in)s to start a learning path: describe "
                            "what you want to understand and TracLearn "
                            "builds the path for you.", sign_in=link),
                       id=anchor, class_='tracl-lp tracl-lp-signin')

    def _next_number(self, req):
        """A number for this macro, unique on the page, for element ids."""
        count = req.chrome.get('tracl_learning_paths', 0) + 1
        req.chrome['tracl_learning_paths'] = count
        return count

    def _add_resources(self, req):
        add_stylesheet(req, 'tracl/css/tracl.css')
        add_script(req, 'tracl/js/page_errors.js')
        add_script(req, 'tracl/js/page_helpers.js')
        add_script(req, 'tracl/js/learning_path.js')
        add_script_data(req, tracl_learning_path={
            'api_url': req.href(API_PREFIX.lstrip('/')),
            'form_token': req.form_token,
            'roadmap_url': req.href.roadmap(),
            'messages': self._messages(),
        })

    def _messages(self):
        """The sentences the page's script shows, translated here."""
        return {
            'query_too_short': _("Describe what you want to understand in "
                                 "at least %(min)d characters.",
                                 min=MIN_QUERY_LENGTH),
            'generating': _("Finding the concepts for your query..."),
            'found': _("Found %(concepts)s in %(subjects)s. Untick any "
                       "you do not want, then create the path."),
            'found_foundations': _("Found %(concepts)s in %(subjects)s, "
                                   "and %(foundations)s they build on. "
                                   "Untick any you do not want, then "
                                   "create the path."),
            'concepts': [_("1 concept"), _("%(n)s concepts")],
            'subjects': [_("1 subject"), _("%(n)s subjects")],
            'foundations': [_("1 foundation"), _("%(n)s foundations")],
            'foundations_heading': _("Foundations: needed first"),
            'foundations_help': _("The concepts found build on these. "
                                  "Each is ticked: a concept that needs "
                                  "one stays locked until you master it."),
            'needed_for': _("needed for %(concepts)s"),
            'not_gated': _("Left out: %(concepts)s will not wait for "
                           "%(foundation)s to be mastered."),
            # A list of names: "A", "A and B", "A, B and C".
            'list_pair': _("%(first)s and %(last)s"),
            'list_separator': _(", "),
            'nothing_found': _("Nothing relevant was found for this query: "
                               "try describing it differently."),
            'preview_heading': _("Concepts for \u201c%(query)s\u201d"),
            'relevance': _("%(percent)s relevant"),
            'selected': _("%(selected)s of %(total)s selected"),
            'none_selected': _("Tick at least one concept to create a "
                               "path."),
            'creating': _("Creating your learning path and writing a "
                          "question for each concept..."),
            'created': _("Your learning path is ready: opening its "
                         "page..."),
            'skipped': _("%(count)s concepts were left out because no "
                         "question could be written for them."),
            'network_error': _("The server could not be reached: check "
                               "your connection and try again."),
            'server_error': _("The server answered with an error (HTTP "
                              "%(status)s): please try again."),
        }

    def _form(self, number, query):
        ids = {part: 'tracl-lp-%s-%d' % (part, number)
               for part in ('query', 'difficulty', 'status', 'preview',
                            'help')}
        difficulty_options = [tag.option(_("Each concept's own level"),
                                          value=ANY_DIFFICULTY)] + \
            [tag.option(self._difficulty_label(level), value=str(level))
             for level in DIFFICULTIES]
        form = tag.form(
            tag.div(
                tag.label(_("What do you want to understand?"),
                          for_=ids['query']),
                tag.input(type='text', id=ids['query'], name='query',
                          value=query, maxlength=str(MAX_QUERY_LENGTH),
                          minlength=str(MIN_QUERY_LENGTH), required='required',
                          size='60',
                          class_='tracl-lp-query',
                          **{'aria-describedby': ids['help']}),
                tag.span(_("For example: I want to understand blockchain "
                           "technology"), id=ids['help'],
                         class_='tracl-lp-help'),
                class_='tracl-lp-field'),
            tag.div(
                tag.label(_("Question difficulty"), for_=ids['difficulty']),
                tag.select(difficulty_options, id=ids['difficulty'],
                           name='difficulty', class_='tracl-lp-difficulty'),
                class_='tracl-lp-field'),
            tag.div(
                tag.button(_("Generate"), type='submit',
                           class_='tracl-lp-generate',
                           **{'aria-controls': ids['preview']}),
                class_='tracl-lp-buttons'),
            # The script checks the query and says what is wrong in the
            # live region, rather than the browser's own bubble.
            class_='tracl-lp-form', novalidate='novalidate')
        return tag.div(
            form,
            tag.noscript(tag.p(_("Creating a learning path needs "
                                 "JavaScript; please turn it on."),
                               class_='tracl-message tracl-warning')),
            tag.div(id=ids['status'], class_='tracl-lp-status',
                    role='status', **{'aria-live': 'polite',
                                      'aria-atomic': 'true'}),
            tag.div(id=ids['preview'], class_='tracl-lp-preview',
                    hidden='hidden'),
            tag.div(
                tag.button(_("Create learning path"), type='button',
                           class_='tracl-lp-create'),
                tag.span(class_='tracl-lp-count'),
                class_='tracl-lp-actions', hidden='hidden'),
            id=form_anchor(number), class_='tracl-lp',
            **{'data-tracl-learning-path': str(number)})

    def _difficulty_label(self, level):
        if level == DIFFICULTIES[0]:
            return _("%(level)d (easiest)", level=level)
        if level == DIFFICULTIES[-1]:
            return _("%(level)d (hardest)", level=level)
        return str(level)
