"""The learner's Anki deck through Trac's real dispatcher
(`GET /api/v1/me/anki`, linked from My learning), on SQLite and
PostgreSQL: signed in only, the learner's own concepts only, a file to
download, the expected answer only once mastered.

Learners make their paths of the starter corpus through the API and answer
through it; the offline grader grades.
"""

import io
import json
import sqlite3
import zipfile

import pytest

# The component, until its module is one of TracLearn's entry points.
import tracl.web.export_api  # noqa: F401
from support.api_client import (  # noqa: F401 (fixture)
    ALICE, BOB, LearnerClient, alice)
from support.study import GOOD_ANSWERS, LEDGERS, WEAK_ANSWER
from support.web import call
from tracl.study.anki_deck import html_field, note_guid
from tracl.study.loop import StudyLoop

pytestmark = pytest.mark.learning_env(
    default_data=True, config=[('learning', 'api_rate_limit', '0'),
                               ('learning', 'max_foundations', '0')])


@pytest.fixture
def bob(env):
    """Bob with his path, of the store Alice's path filled."""
    learner = LearnerClient(env, BOB)
    learner.make_path(fill=False)
    return learner


def deck_notes(response):
    """The notes of an `.apkg` answer, by guid: their fields by name and
    their tags."""
    with zipfile.ZipFile(io.BytesIO(response.body)) as package:
        collection = package.read('collection.anki2')
    db = sqlite3.connect(':memory:')
    db.deserialize(collection)
    models = json.loads(db.execute('SELECT models FROM col').fetchone()[0])
    notes = {}
    for guid, mid, flds, tags in db.execute(
            'SELECT guid, mid, flds, tags FROM notes'):
        names = [f['name'] for f in models[str(mid)]['flds']]
        notes[guid] = dict(zip(names, flds.split('\x1f')),
                           tags=tags.split())
    db.close()
    return notes


def assert_deck_file(response):
    assert response.status == 200, response
    assert response.header('Content-Type') == 'application/apkg'
    disposition = response.header('Content-Disposition')
    assert disposition.startswith('attachment; filename="tracl-')
    assert disposition.endswith('.apkg"')
    assert response.header('Cache-Control') == 'no-store'
    assert int(response.header('Content-Length')) == len(response.body)


def test_a_visitor_must_sign_in(env):
    response = call(env, 'GET', '/api/v1/me/anki')
    assert response.status == 401
    assert response.header('Content-Type').startswith('application/json')
    assert set(response.json()['error']) >= {'code', 'message'}
    assert response.header('WWW-Authenticate').startswith('Bearer')


def test_an_invalid_token_is_refused(env):
    response = call(env, 'GET', '/api/v1/me/anki',
                    headers={'Authorization': 'Bearer not-a-token'})
    assert response.status == 401
    assert response.json()['error']['code'] == 'invalid_token'


def test_learner_downloads_one_note_per_own_concept(env, alice, bob):
    response = alice.api('GET', '/me/anki')
    assert_deck_file(response)
    notes = deck_notes(response)
    own = [t['ticket_id'] for t in alice.path['tickets']]
    assert set(notes) == {note_guid(ALICE, t) for t in own}
    # Bob's path is of the same query: same concept names, other tickets.
    bobs = {note_guid(BOB, t['ticket_id']) for t in bob.path['tickets']} | \
        {note_guid(ALICE, t['ticket_id']) for t in bob.path['tickets']}
    assert not set(notes) & bobs
    names = {t['concept'] for t in alice.path['tickets']}
    assert {n['Concept'] for n in notes.values()} == names


def test_expected_answer_only_once_mastered(env, alice):
    ledgers = alice.concept(LEDGERS)
    others = [t['ticket_id'] for t in alice.path['tickets']
              if t['ticket_id'] != ledgers]
    assert alice.answer(others[0], WEAK_ANSWER)['mastered'] is False
    before = deck_notes(alice.api('GET', '/me/anki'))
    assert all(n['ExpectedAnswer'] == '' and n['YourAnswer'] == ''
               for n in before.values())

    assert alice.answer(ledgers, GOOD_ANSWERS[LEDGERS])['mastered'] is True
    notes = deck_notes(alice.api('GET', '/me/anki'))
    mastered = notes[note_guid(ALICE, ledgers)]
    loop = StudyLoop(env)
    expected = loop.concept(ALICE, ledgers).expected_answer
    assert expected and mastered['ExpectedAnswer'] == html_field(expected)
    assert 'mastered' in mastered['tags']
    assert mastered['YourAnswer'].startswith(GOOD_ANSWERS[LEDGERS][:40])
    weak = notes[note_guid(ALICE, others[0])]
    assert weak['ExpectedAnswer'] == '' and weak['YourAnswer'] == ''
    assert 'studying' in weak['tags']
    # The same guids in both exports: a re-import updates the notes.
    assert set(before) == set(notes)


def test_source_text_and_reference_are_on_the_back(env, alice):
    notes = deck_notes(alice.api('GET', '/me/anki'))
    note = notes[note_guid(ALICE, alice.concept(LEDGERS))]
    assert note['Source'] and note['Reference'].startswith(
        'TracLearn starter corpus')
    assert 'blockchain-fundamentals' in note['tags']


def test_a_learner_without_concepts_gets_an_empty_deck(env):
    response = LearnerClient(env, 'sub-nobody').api('GET', '/me/anki')
    assert_deck_file(response)
    assert deck_notes(response) == {}


def test_openapi_document_describes_the_file(env):
    document = call(env, 'GET', '/api/v1/openapi.json').json()
    operation = document['paths']['/me/anki']['get']
    assert 'application/apkg' in operation['responses']['200']['description']
    assert '401' in operation['responses']


def test_my_learning_links_to_the_deck(env, alice):
    response = alice.get('/learning')
    assert response.status == 200
    assert 'href="/api/v1/me/anki"' in response.text
    assert 'Download as an Anki deck' in response.text


def test_my_learning_without_paths_has_no_deck_link(env):
    response = LearnerClient(env, 'sub-nobody').get('/learning')
    assert response.status == 200
    assert '/api/v1/me/anki' not in response.text
