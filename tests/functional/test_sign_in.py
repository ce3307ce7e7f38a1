"""Signing in and out through the Cognito login page, in a real browser."""

import pytest

from support.functional_users import USERS

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def test_learner_signs_in_sees_their_name_and_signs_out(functional):
    testenv, tester, tc = functional
    tester.logout()
    tc.go(testenv.url + '/learning')
    tc.find('to start a learning path')
    tc.follow('Sign in')
    tc.find('<h1>Sign in</h1>')
    tc.find('LOCAL COGNITO EMULATOR')  # the banner on every page
    tc.formvalue('login-form', 'username', 'user')
    tc.formvalue('login-form', 'password', USERS['user']['password'])
    tc.submit('signin', 'login-form')
    tc.url(testenv.url + '/learning', regexp=False)
    tc.find('logged in as[ \t\n]+<span class="trac-author-user">Uma Learner'
            '</span>')
    tc.find('You have no learning paths yet')
    tc.submit('logout', 'logout')
    tc.notfind('logged in as')
    tc.go(testenv.url + '/learning')
    tc.find('to start a learning path')


def test_wrong_password_is_refused_with_a_message(functional):
    testenv, tester, tc = functional
    tester.logout()
    tc.go(testenv.url + '/login')
    tc.formvalue('login-form', 'username', 'user')
    tc.formvalue('login-form', 'password', 'NotThePassword1')
    tc.submit('signin', 'login-form')
    tc.find('Wrong username or password.')
    tc.notfind('logged in as')
