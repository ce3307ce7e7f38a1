"""A learner's session data: display name, email, Cognito username,
groups, preferences and the active learning path (the path the learner
created or opened last, so a new visit resumes it).

The Trac session (`session_attribute`) is the record. Its `name` is the
name Trac shows for the person (its "full name": the header, ticket owner
and reporter, the timeline): the name of the ID token, else the Cognito
username, so that no page shows the `sub`, which is the Trac username.

The session is the record; `session:{sub}` in the
cache holds a copy for two hours, so a request needs no query.
Logout clears the copy, so nothing of the learner outlives the sign-out.
"""

import json

from trac.core import Component
from trac.web.session import DetachedSession

from tracl.cache import SESSION_TTL, LearningCache, session_key

#: Session attributes TracLearn keeps beside Trac's `name` and `email`.
USERNAME_ATTRIBUTE = 'tracl_username'
GROUPS_ATTRIBUTE = 'tracl_groups'
PREFERENCES_ATTRIBUTE = 'tracl_preferences'
ACTIVE_PATH_ATTRIBUTE = 'tracl_active_path'

#: Most preferences a learner may keep: enough for any page's settings,
#: few enough that one learner cannot grow the session table without bound.
MAX_PREFERENCES = 50


class LearnerProfiles(Component):
    """Reads and writes learners' session data."""

    def get(self, sub):
        """The learner's profile: a dict with `sub`, `username`, `email`,
        `name`, `groups`, `preferences` and `active_path` (a path id or
        `None`)."""
        cache = LearningCache(self.env)
        profile = cache.get(session_key(sub))
        if profile is None:
            profile = self._load(sub)
            cache.set(session_key(sub), profile, SESSION_TTL)
        return profile

    def update(self, sub, username=None, email=None, name=None,
               groups=None, preferences=None):
        """Record what changed (from a sign-in or the learner) and refresh
        the cached copy. Returns the profile.

        Without a `name`, a session that has none takes the username as
        its name, the name Trac shows for the person. Saving a changed
        name or email makes Trac forget its cached list of known users
        (`DetachedSession.save` does it), so every page shows the new
        name at once."""
        session = DetachedSession(self.env, sub)
        if name is None and username and username != sub and \
                not (session.get('name') or '').strip():
            name = username
        changes = {'name': name, 'email': email, USERNAME_ATTRIBUTE: username,
                   GROUPS_ATTRIBUTE: None if groups is None
                   else json.dumps(sorted(groups)),
                   PREFERENCES_ATTRIBUTE: None if preferences is None
                   else json.dumps(preferences, sort_keys=True)}
        dirty = False
        for attribute, value in changes.items():
            if value is not None and session.get(attribute) != value:
                session[attribute] = value
                dirty = True
        if dirty:
            session.save()
        profile = self._profile(sub, session)
        LearningCache(self.env).set(session_key(sub), profile, SESSION_TTL)
        return profile

    def set_active_path(self, sub, path_id):
        """Make `path_id` the learner's active path. Writes only when it
        changes, so opening the same path again costs no write."""
        if self.get(sub).get('active_path') == path_id:
            return
        session = DetachedSession(self.env, sub)
        session[ACTIVE_PATH_ATTRIBUTE] = path_id
        session.save()
        LearningCache(self.env).set(session_key(sub),
                                    self._profile(sub, session), SESSION_TTL)

    def forget(self, sub):
        """Drop the cached copy (logout)."""
        LearningCache(self.env).delete(session_key(sub))

    # Internal methods

    def _load(self, sub):
        return self._profile(sub, DetachedSession(self.env, sub))

    def _profile(self, sub, session):
        return {
            'sub': sub,
            'username': session.get(USERNAME_ATTRIBUTE) or sub,
            'email': session.get('email') or None,
            'name': session.get('name') or None,
            'groups': _json(session.get(GROUPS_ATTRIBUTE), []),
            'preferences': _json(session.get(PREFERENCES_ATTRIBUTE), {}),
            'active_path': session.get(ACTIVE_PATH_ATTRIBUTE) or None,
        }


def _json(text, default):
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default
