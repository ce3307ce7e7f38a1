"""The Anki deck of a learner's concepts (`tracl.study.anki_deck`,
`tracl.model.anki`), read back from the `.apkg` as Anki would: a zip
holding an SQLite collection whose notes keep their fields in `flds`.

Concepts are written straight into a learning environment (SQLite and
PostgreSQL), with hostile text in every field a learner or a corpus fills.
"""

import io
import json
import sqlite3
import zipfile

import pytest
from trac.ticket.model import Milestone, Ticket
from trac.util.datefmt import datetime_now, to_utimestamp, utc

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.model.anki import exported_concepts
from tracl.model.concepts import concept_description
from tracl.schema import sql
from tracl.study.anki_deck import (FIELDS, ROOT_DECK, AnkiDeckExport, Card,
                                   build_decks, deck_name, html_field,
                                   note_guid, package_bytes, stable_id,
                                   subject_tag)

ALICE, BOB = 'sub-alice', 'sub-bob'

SCRIPT = '<script>alert("x")</script>'
EXPECTED_MASTERED = 'Expected answer of the mastered concept'
EXPECTED_STUDYING = 'SECRET expected answer of the unmastered concept'


# Reading a package ----------------------------------------------------------

def read_apkg(content):
    """`(notes, decks)` of an `.apkg`: notes as dicts of their fields
    (by name), `guid`, `tags` and `deck` (the name of their card's deck);
    decks as `{name: id}`."""
    with zipfile.ZipFile(io.BytesIO(content)) as package:
        assert set(package.namelist()) == {'collection.anki2', 'media'}
        collection = package.read('collection.anki2')
    db = sqlite3.connect(':memory:')
    db.deserialize(collection)
    decks = {d['name']: int(i) for i, d in json.loads(
        db.execute('SELECT decks FROM col').fetchone()[0]).items()}
    names = {i: name for name, i in decks.items()}
    models = json.loads(db.execute('SELECT models FROM col').fetchone()[0])
    notes = []
    for guid, mid, flds, tags, did in db.execute(
            'SELECT n.guid, n.mid, n.flds, n.tags, c.did FROM notes n '
            'JOIN cards c ON c.nid = n.id ORDER BY n.sfld'):
        fields = [f['name'] for f in models[str(mid)]['flds']]
        note = dict(zip(fields, flds.split('\x1f')))
        note.update(guid=guid, tags=tags.split(), deck=names[did], mid=mid)
        notes.append(note)
    db.close()
    return notes, decks


# Concepts in the database -------------------------------------------------

def add_concept(env, sub, name, subject, content, question, expected,
                chunk_id=None, status=None, attempts=()):
    """A concept ticket of `sub` with its metadata, progress `status`
    (none: not started) and `attempts` as `(answer, score)` pairs."""
    now = to_utimestamp(datetime_now(utc))
    if not any(m.name == subject for m in Milestone.select(env)):
        milestone = Milestone(env)
        milestone.name = subject
        milestone.insert()
    ticket = Ticket(env)
    ticket.populate({'type': CONCEPT_TICKET_TYPE, 'status': 'new',
                     'summary': name, 'owner': sub, 'milestone': subject,
                     'description': concept_description(content),
                     'question': question})
    ticket_id = ticket.insert()
    with env.db_transaction as db:
        db(sql(env, """INSERT INTO {concept_metadata} (ticket_id, chunk_id,
                       expected_answer, created_at) VALUES (%s,%s,%s,%s)"""),
           (ticket_id, chunk_id or 'chunk-%d' % ticket_id, expected, now))
        if status:
            db(sql(env, """INSERT INTO {progress} (cognito_user_id,
                           ticket_id, status, completed_at)
                           VALUES (%s,%s,%s,%s)"""),
               (sub, ticket_id, status,
                now if status == 'mastered' else None))
        for number, (answer, score) in enumerate(attempts, 1):
            db(sql(env, """INSERT INTO {attempts} (cognito_user_id,
                           ticket_id, attempt, answer, score, grader,
                           created_at) VALUES (%s,%s,%s,%s,%s,'test',%s)"""),
               (sub, ticket_id, number, answer, score, now + number))
    return ticket_id


def add_chunk(env, chunk_id, source):
    now = to_utimestamp(datetime_now(utc))
    with env.db_transaction as db:
        db(sql(env, """INSERT INTO {chunks} (id, subject, concept, content,
                       source, created_at, updated_at)
                       VALUES (%s,%s,%s,%s,%s,%s,%s)"""),
           (chunk_id, 'S', 'C-' + chunk_id, 'text', source, now, now))


@pytest.fixture
def concepts(env):
    """Alice's mastered, studying and untouched concepts in two subjects,
    and Bob's concept: `{key: ticket_id}`."""
    add_chunk(env, 'chunk-hash', 'Starter corpus, section 1 ' + SCRIPT)
    return {
        'mastered': add_concept(
            env, ALICE, 'Hashing ' + SCRIPT, 'Blockchain Fundamentals',
            'A hash function maps data.\n' + SCRIPT + '\n}}} & more',
            'What is a hash? ' + SCRIPT, EXPECTED_MASTERED,
            chunk_id='chunk-hash', status='mastered',
            attempts=[('first weak answer', 0.4),
                      ('good answer ' + SCRIPT + '\nsecond line', 0.9),
                      ('a later weak answer', 0.5)]),
        'studying': add_concept(
            env, ALICE, 'Vectors', 'Linear Algebra', 'Vectors have length.',
            'What is a vector?', EXPECTED_STUDYING, status='studying',
            attempts=[('not quite', 0.3)]),
        'untouched': add_concept(
            env, ALICE, 'Matrices', 'Linear Algebra', 'Matrices are grids.',
            'What is a matrix?', 'Another SECRET expected answer'),
        'bob': add_concept(
            env, BOB, 'Bob only', 'Blockchain Fundamentals', 'Bob text',
            "Bob's question", 'Bob expected', status='mastered',
            attempts=[("Bob's good answer", 0.95)]),
    }


def alice_notes(env):
    deck = AnkiDeckExport(env).export(ALICE)
    notes, decks = read_apkg(deck.content)
    assert deck.notes == len(notes)
    assert deck.filename.startswith('tracl-') and \
        deck.filename.endswith('.apkg')
    return {n['Question']: n for n in notes}, decks


# The deck of a learner ------------------------------------------------------

def test_one_note_per_own_concept_and_none_of_another_learner(env, concepts):
    notes, _decks = alice_notes(env)
    assert len(notes) == 3
    assert not any('Bob' in field for note in notes.values()
                   for field in note.values() if isinstance(field, str))


def test_expected_answer_only_on_the_mastered_concept(env, concepts):
    notes, _decks = alice_notes(env)
    mastered = notes['What is a hash? ' + html_field(SCRIPT)]
    assert mastered['ExpectedAnswer'] == EXPECTED_MASTERED
    for question in ('What is a vector?', 'What is a matrix?'):
        assert notes[question]['ExpectedAnswer'] == ''
    raw = AnkiDeckExport(env).export(ALICE).content
    collection = zipfile.ZipFile(io.BytesIO(raw)).read('collection.anki2')
    assert b'SECRET' not in collection


def test_expected_answer_is_hidden_when_trac_ini_says_so(env, concepts):
    env.config.set('learning', 'show_expected_answer', 'false')
    notes, _decks = alice_notes(env)
    assert all(n['ExpectedAnswer'] == '' for n in notes.values())


def test_back_holds_the_last_good_answer_source_text_and_reference(
        env, concepts):
    notes, _decks = alice_notes(env)
    mastered = notes['What is a hash? ' + html_field(SCRIPT)]
    assert mastered['YourAnswer'] == \
        'good answer &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;' \
        '<br>second line'
    assert mastered['Source'].startswith('A hash function maps data.<br>')
    assert '}}} &amp; more' in mastered['Source']
    assert mastered['Reference'] == \
        'Starter corpus, section 1 ' + html_field(SCRIPT)
    # Never an answer below the threshold.
    assert notes['What is a vector?']['YourAnswer'] == ''
    assert notes['What is a matrix?']['YourAnswer'] == ''


def test_an_overridden_answer_is_not_a_good_answer(env, concepts):
    with env.db_transaction as db:
        db(sql(env, """UPDATE {attempts} SET overridden_by=9
                       WHERE ticket_id=%s AND attempt=2"""),
           (concepts['mastered'],))
    rows = {r.ticket_id: r for r in exported_concepts(env, ALICE, 0.8)}
    assert rows[concepts['mastered']].good_answer is None


def test_hostile_text_is_escaped_in_every_field(env, concepts):
    notes, _decks = alice_notes(env)
    for note in notes.values():
        for name in FIELDS:
            assert '<script' not in note[name], name
    mastered = notes['What is a hash? ' + html_field(SCRIPT)]
    assert mastered['Concept'] == 'Hashing ' + \
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'


def test_deck_per_subject_below_the_root_deck(env, concepts):
    notes, decks = alice_notes(env)
    assert set(decks) >= {ROOT_DECK, 'TracLearn::Blockchain Fundamentals',
                          'TracLearn::Linear Algebra'}
    assert notes['What is a vector?']['deck'] == 'TracLearn::Linear Algebra'
    assert notes['What is a hash? ' + html_field(SCRIPT)]['deck'] == \
        'TracLearn::Blockchain Fundamentals'


def test_tags_are_tracl_subject_slug_and_status(env, concepts):
    notes, _decks = alice_notes(env)
    assert sorted(notes['What is a hash? ' + html_field(SCRIPT)]['tags']) \
        == ['blockchain-fundamentals', 'mastered', 'tracl']
    assert sorted(notes['What is a vector?']['tags']) == \
        ['linear-algebra', 'studying', 'tracl']
    assert sorted(notes['What is a matrix?']['tags']) == \
        ['linear-algebra', 'not_started', 'tracl']


def test_ids_and_guids_are_the_same_in_two_exports(env, concepts):
    first, first_decks = alice_notes(env)
    second, second_decks = alice_notes(env)
    assert first_decks == second_decks
    assert {q: (n['guid'], n['mid']) for q, n in first.items()} == \
        {q: (n['guid'], n['mid']) for q, n in second.items()}
    assert first['What is a vector?']['guid'] == \
        note_guid(ALICE, concepts['studying'])


def test_learner_without_concepts_gets_a_valid_empty_deck(env):
    deck = AnkiDeckExport(env).export(ALICE)
    notes, decks = read_apkg(deck.content)
    assert deck.notes == 0 and notes == []
    assert ROOT_DECK in decks


# Names, ids and fields -------------------------------------------------

def test_guid_depends_on_learner_and_concept():
    assert note_guid(ALICE, 7) == note_guid(ALICE, 7)
    assert len({note_guid(ALICE, 7), note_guid(BOB, 7),
                note_guid(ALICE, 8)}) == 3


def test_stable_ids_are_in_genankis_range():
    for name in ('TracLearn', 'TracLearn::Linear Algebra', ''):
        assert stable_id('deck', name) == stable_id('deck', name)
        assert (1 << 30) <= stable_id('deck', name) < (1 << 31)
    assert stable_id('deck', 'A') != stable_id('model', 'A')


def test_a_subject_cannot_nest_decks_or_break_the_name():
    assert deck_name('A :: B\n\x00C') == 'TracLearn::A : B C'
    assert deck_name('::') == 'TracLearn::No subject'
    assert deck_name('<b>Bold</b>') == 'TracLearn::<b>Bold</b>'


def test_subject_tag_has_no_spaces():
    assert subject_tag('Linear  Algebra & <b>Friends</b>') == \
        'linear-algebra-b-friends-b'
    assert subject_tag('Biolog\u00eda celular') == 'biolog\u00eda-celular'
    assert subject_tag('') == 'no-subject'


def test_built_package_holds_escaped_fields():
    card = Card(1, SCRIPT, 'S', 'mastered', 'Q\r\n' + SCRIPT, None,
                'E & "e"', "<img src=x onerror='alert(1)'>", '')
    notes, decks = read_apkg(package_bytes(build_decks(ALICE, [card])))
    # Anki's collection always holds its 'Default' deck.
    assert set(decks) == {'Default', ROOT_DECK, 'TracLearn::S'}
    (note,) = notes
    assert note['Question'] == 'Q<br>' + html_field(SCRIPT)
    assert note['ExpectedAnswer'] == 'E &amp; &quot;e&quot;'
    assert note['Source'] == \
        '&lt;img src=x onerror=&#x27;alert(1)&#x27;&gt;'
