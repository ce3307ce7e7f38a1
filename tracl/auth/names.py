"""The names pages show for people, never their Cognito `sub` (which is
the Trac username).

Trac names people itself wherever its pages show one (the header, ticket
owner and reporter, query columns, the timeline): `Chrome.format_author`
shows the `name` of an authenticated Trac session when `[trac]
show_full_names` is on. Sign-in keeps that name as the ID token's name,
else the Cognito username (`LearnerProfiles.update`). This module fills
what Trac shows raw: the owner and reporter filters of the ticket query,
whose text box holds the value the query matches.
"""

import re

from trac.core import Component, implements
from trac.web.api import IRequestFilter, arg_list_to_args

from tracl.auth.permissions import ADMIN
from tracl.auth.profile import USERNAME_ATTRIBUTE, LearnerProfiles

#: The query filters that hold a person.
PERSON_FIELDS = ('owner', 'reporter')

_FIELD_RE = re.compile(r'^(?:\d+_)?(%s)$' % '|'.join(PERSON_FIELDS))


def display_name(name, username):
    """The name of a person with ID-token name `name` and Cognito
    username `username`: the name, else the username, else None."""
    for value in (name, username):
        if value and value.strip():
            return value.strip()
    return None


def person_name(env, sub):
    """The name pages show for Trac user `sub`: their session's name,
    else their Cognito username; None when the session has neither."""
    profile = LearnerProfiles(env).get(sub)
    username = profile.get('username')
    return display_name(profile.get('name'),
                        username if username != sub else None)


class QueryPersonNames(Component):
    """Shows names in the ticket query's owner and reporter filters and
    reads them back.

    A learner sees their own name ("Owner is Alice Smith", from
    View Tickets' `owner=$USER`); an administrator also sees the Cognito
    username of anyone else (unique, so it reads back to one person).
    Nobody sees another person's name that they could not see before: a
    learner's filter on another `sub` stays as typed."""

    implements(IRequestFilter)

    # IRequestFilter methods

    def pre_process_request(self, req, handler):
        if req.path_info.rstrip('/') == '/query' and req.is_authenticated:
            names = self._names_to_subs(req)
            admin = ADMIN in req.perm
            arg_list = req.arg_list
            changed = [(k, self._to_sub(v, names, admin)
                        if _FIELD_RE.match(k) and isinstance(v, str) else v)
                       for k, v in arg_list]
            if changed != arg_list:
                req.arg_list = changed
                req.args = arg_list_to_args(changed)
        return handler

    def post_process_request(self, req, template, data, metadata):
        if template == 'query.html' and data and req.is_authenticated:
            for clause in data.get('clauses') or []:
                for field in PERSON_FIELDS:
                    constraint = clause.get(field)
                    if constraint and constraint.get('values'):
                        constraint['values'] = [
                            self._shown(req, value)
                            for value in constraint['values']]
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

    def _names_to_subs(self, req):
        """`{text: sub}` of the names the viewer may type for a person."""
        sub = req.authname
        profile = LearnerProfiles(self.env).get(sub)
        names = {}
        for value in (profile.get('name'), profile.get('username')):
            if value and value.strip():
                names[value.strip()] = sub
        return names

    def _to_sub(self, value, names, admin):
        neg = value.startswith('!')
        text = value[1:] if neg else value
        sub = names.get(text.strip())
        if sub is None and text and admin:
            sub = self._sub_of_username(text.strip())
        return ('!' if neg else '') + sub if sub else value

    def _sub_of_username(self, username):
        rows = self.env.db_query("""
            SELECT sid FROM session_attribute
            WHERE authenticated=1 AND name=%s AND value=%s
            """, (USERNAME_ATTRIBUTE, username))
        return rows[0][0] if len(rows) == 1 else None
