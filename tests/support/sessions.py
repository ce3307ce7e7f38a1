"""Signed-in browser sessions for tests that are not about signing in: the
rows a successful Cognito sign-in leaves behind."""

import uuid

from trac.util.datefmt import datetime_now, to_utimestamp, utc

from tracl.schema import sql

HOUR = 3600 * 1000000


def browser_session(env, sub, expires_in=HOUR, groups=('Students',)):
    """Cookies of a browser signed in as `sub` (Trac's `trac_auth` and a
    form token), as `/login` would leave them. A learner may have several
    browsers."""
    from tracl.auth.profile import LearnerProfiles
    cookie = uuid.uuid4().hex
    now = to_utimestamp(datetime_now(utc))
    with env.db_transaction as db:
        db("INSERT INTO auth_cookie (cookie, name, ipnr, time) "
           "VALUES (%s, %s, %s, %s)", (cookie, sub, '127.0.0.1', now // 10**6))
        db(sql(env, """INSERT INTO {cognito_sessions} (cognito_sub,
                access_token, id_token, refresh_token, token_expires,
                trac_session_id, last_activity, created_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (cognito_sub) DO UPDATE
                SET token_expires=EXCLUDED.token_expires,
                    last_activity=EXCLUDED.last_activity"""),
           (sub, 'access', 'id', 'refresh', now + expires_in, sub, now, now))
    LearnerProfiles(env).update(sub, username='user-' + sub[:6],
                                groups=list(groups))
    return {'trac_auth': cookie, 'trac_form_token': 'form-token-' + sub[:8]}
