"""TracLearn in a real browser against a real tracd."""

import pytest

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def test_my_learning_page_invites_a_visitor_to_sign_in(functional):
    testenv, tester, tc = functional
    tester.logout()
    tc.go(testenv.url + '/learning')
    tc.find('<h1>My learning</h1>')
    tc.find('to start a learning path')
    tc.find(r'id="mainnav".*href="/learning"', 's')


def test_signed_in_learner_is_told_how_to_start(functional):
    testenv, tester, tc = functional
    tester.login('user')
    try:
        tc.go(testenv.url + '/learning')
        tc.find('You have no learning paths yet')
        tc.find(r'href="/chrome/tracl/css/tracl.css"')
    finally:
        tester.logout()


def test_concept_type_and_learning_fields_are_on_the_new_ticket_form(
        functional):
    testenv, tester, tc = functional
    tester.login('admin')
    try:
        tc.go(testenv.url + '/newticket')
        tc.find('<option[^>]*>learning_concept</option>')
        tc.find('Question difficulty')
    finally:
        tester.logout()
