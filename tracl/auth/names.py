"""The names pages show for people, never their Cognito `sub` (which is
the Trac username).

Trac names people itself wherever its pages show one (the header, ticket
owner and reporter, query columns, the timeline): `Chrome.format_author`
shows the `name` of an authenticated Trac session when `[trac]
show_full_names` is on. Sign-in keeps that name as the ID token's name,
else the Cognito username (`LearnerProfiles.update`). This module fills
what Trac shows raw: the owner and reporter filters of the ticket query
and the timeline's author filter, whose text boxes hold the value Trac
matches.
"""

import re

from trac.core import Component, implements
from trac.web.api import IRequestFilter, arg_list_to_args

from tracl.auth.permissions import ADMIN
from tracl.auth.profile import USERNAME_ATTRIBUTE, LearnerProfiles
from tracl.model.learners import display_name

#: The query filters that hold a person.
PERSON_FIELDS = ('owner', 'reporter')

_FIELD_RE = re.compile(r'^(?:\d+_)?(%s)$' % '|'.join(PERSON_FIELDS))

#: One person of the timeline's author filter, as Trac reads it: `-`
#: excludes; a name with spaces is quoted.
_AUTHOR_RE = re.compile(r'(-)?(?:"([^"]*)"|\'([^\']*)\'|([^\s]+))')


def _authors(text, convert):
    """The timeline's author filter `text` with each person passed
    through `convert` (and quoted when it holds a space)."""
    people = []
    for match in _AUTHOR_RE.finditer(text):
        person = convert(match.group(2) or match.group(3) or
                         match.group(4) or '')
        if re.search(r'\s', person):
            person = ("'%s'" if '"' in person else '"%s"') % person
        people.append((match.group(1) or '') + person)
    return ' '.join(people)


def person_name(env, sub):
    """The name pages show for Trac user `sub`: their session's name,
    else their Cognito username; None when the session has neither."""
    profile = LearnerProfiles(env).get(sub)
    return display_name(profile.get('name'), profile.get('username'), sub)


class QueryPersonNames(Component):
    """Shows names in the ticket query's owner and reporter filters and
    in the timeline's author filter, and reads them back.

    A learner sees their own name ("Owner is Alice Smith", from
    View Tickets' `owner=$USER`); an administrator also sees the Cognito
    username of anyone else (unique, so it reads back to one person).
    Nobody sees another person's name that they could not see before: a
    learner's filter on another `sub` stays as typed."""

    implements(IRequestFilter)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        if not req.is_authenticated:
            return handler
        path = req.path_info.rstrip('/')
        if path == '/query':
            read = self._reader(req)
            arg_list = req.arg_list
            changed = [(k, self._to_sub(v, read)
                        if _FIELD_RE.match(k) and isinstance(v, str) else v)
                       for k, v in arg_list]
            if changed != arg_list:
                req.arg_list = changed
                req.args = arg_list_to_args(changed)
        elif path == '/timeline' and req.args.get('authors'):
            read = self._reader(req)
            req.args['authors'] = _authors(req.args.get('authors'),
                                           lambda text: read(text) or text)
        return handler

    def post_process_request(self, req, template, data, metadata):
        if not data or not req.is_authenticated:
            return template, data, metadata
        if template == 'query.html':
            for clause in data.get('clauses') or []:
                for field in PERSON_FIELDS:
                    constraint = clause.get(field)
                    if constraint and constraint.get('values'):
                        constraint['values'] = [
                            self._shown(req, value)
                            for value in constraint['values']]
        elif template == 'timeline.html' and data.get('authors'):
            data['authors'] = _authors(data['authors'],
                                       lambda sub: self._shown(req, sub))
        return template, data, metadata

    # Internal methods

    def _shown(self, req, value):
        """The text the filter box shows for `value`."""
        if value == req.authname:
            return person_name(self.env, value) or value
        if ADMIN in req.perm and value:
            username = self._username(value)
            if username:
                return username
        return value

    def _username(self, sub):
        for value, in self.env.db_query("""
                SELECT value FROM session_attribute
                WHERE sid=%s AND authenticated=1 AND name=%s
                """, (sub, USERNAME_ATTRIBUTE)):
            if value and value != sub:
                return value
        return None

    def _reader(self, req):
        """A function giving the `sub` of a person's name as the viewer
        may type it (None for text that names nobody they may name): their
        own name or username, and for an administrator anyone's
        username."""
        sub = req.authname
        profile = LearnerProfiles(self.env).get(sub)
        names = {}
        for value in (profile.get('name'), profile.get('username')):
            if value and value.strip():
                names[value.strip()] = sub
        admin = ADMIN in req.perm

        def read(text):
            text = text.strip()
            found = names.get(text)
            if found is None and text and admin:
                found = self._sub_of_username(text)
            return found
        return read

    def _to_sub(self, value, read):
        """A filter's `value` (`!` negates) with a name read as the sub."""
        neg = value.startswith('!')
        sub = read(value[1:] if neg else value)
        return ('!' if neg else '') + sub if sub else value

    def _sub_of_username(self, username):
        rows = self.env.db_query("""
            SELECT sid FROM session_attribute
            WHERE authenticated=1 AND name=%s AND value=%s
            """, (USERNAME_ATTRIBUTE, username))
        return rows[0][0] if len(rows) == 1 else None
