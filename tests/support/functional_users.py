"""The Cognito users of the functional tests' emulator pool."""

#: The harness's users, as Cognito users of the emulator's pool. Trac's
#: harness uses the username as password; the pool's policy wants more.
USERS = {
    'admin': {'password': 'AdminPass123', 'name': 'Ada Admin',
              'groups': ['Administrators']},
    'user': {'password': 'UserPass123', 'name': 'Uma Learner',
             'groups': ['Students']},
    'joe': {'password': 'JoePass123', 'name': 'Joe Learner',
            'groups': ['Students']},
    # The learner of test_study_in_browser.py alone: studies and masters
    # concepts, which no other test may find done.
    'mia': {'password': 'MiaPass123', 'name': 'Mia Learner',
            'groups': ['Students']},
    # The learner of test_console_chromium.py alone: her concepts are open,
    # locked and mastered for Chromium's console checks.
    'chloe': {'password': 'ChloePass123', 'name': 'Chloe Learner',
              'groups': ['Students']},
}
