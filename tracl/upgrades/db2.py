"""Learning schema version 2: the default grants of the LEARNING_*
actions to the Trac groups Cognito groups map to (`[cognito] group_map`):
`learner` studies, `admin` administers learning. Granted once; an admin's
later changes stand."""

DEFAULT_GRANTS = (('learner', 'LEARNING_STUDY'), ('admin', 'LEARNING_ADMIN'))


def do_upgrade(env, version, cursor):
    cursor.execute("SELECT username, action FROM permission")
    existing = set(cursor.fetchall())
    for grant in DEFAULT_GRANTS:
        if grant not in existing:
            cursor.execute("INSERT INTO permission (username, action) "
                           "VALUES (%s, %s)", grant)
