"""The learning-paths API (contract "HTTP API": generate, create, list and
read), through Trac's real request dispatcher, on SQLite and PostgreSQL.

Every test's environment holds the embedded starter corpus in its
`LocalChunkStore`. Learners are signed in with browser sessions, so every
write carries the X-CSRF-Token header. Providers that fail, or take their
time, are test-only `ILLMProvider` components chosen with `[learning]
llm_provider`, as an administrator chooses a real one.
"""

import re
import threading
import time
import uuid
from html import unescape

import numpy as np
import pytest
# A stub environment knows only the components whose modules are imported:
# the ticket page, and the chunk store (not an entry point yet).
import trac.ticket.web_ui  # noqa: F401
from trac.cache import key_to_id
from trac.perm import PermissionSystem
from trac.ticket.model import Milestone, Ticket

import tracl.search.local_store  # noqa: F401
from support.api_client import LearnerClient, next_request
from support.corpus import starter_chunks_and_vectors
from support.faults import FailingTicketListener
from support.providers import ScriptedLLMProvider, scripted_provider
from support.web import call
from tracl.cache import LearningCache, search_key
from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.llm.offline import OfflineLLMProvider
from tracl.schema import sql
from tracl.search import LearningChunkStore
from tracl.search.local_store import mark_chunks_changed
from tracl.search.pipeline import SearchPipeline

API = '/api/v1/learning-paths'

BLOCKCHAIN = 'I want to understand blockchain technology'
SIGNATURES = 'digital signatures and hash functions'
TWO_SUBJECTS = 'hash functions and gradient descent'
MACHINE_LEARNING = 'machine learning'
OFF_TOPIC = 'how to bake sourdough bread'

SUBJECT = 'Blockchain Fundamentals'
HASHES, SIGNING = 'bc_01', 'bc_05'    # 'Digital Signatures' needs hashes

ALICE, BOB, ADMIN_SUB = 'sub-alice', 'sub-bob', 'sub-admin'

CHUNK_FIELDS = {'chunk_id', 'concept', 'subject', 'content', 'relevance',
                'cosine', 'lexical', 'foundation_for', 'has_prerequisite',
                'prerequisite_for',
                'difficulty_level', 'source'}

#: Tables a path creation writes, and Trac's tables it writes to.
WRITTEN_TABLES = ('{paths}', '{path_concepts}', '{concept_metadata}',
                  '{prerequisites}', 'ticket', 'ticket_custom',
                  'ticket_change', 'milestone')

#: Hostile chunk text: wiki markup, HTML and an attempt to close the
#: plain-text block the description wraps it in.
HOSTILE_CONTENT = (
    "Hostile chunks are text from outside and must stay text. "
    "[[Image(http://evil.example/pwn.png)]] "
    "<script>alert('pwned')</script> "
    "}}}\n{{{#!html\n<img src=\"http://evil.example/x.png\" "
    "onerror=\"alert(1)\">\n}}}\n"
    "[http://evil.example/ click here] because this chunk tests escaping, "
    "which means the learner sees exactly what the library holds.")


# Fixtures and helpers -----------------------------------------------------

# The embedded starter corpus in the chunk store; the scripted provider
# (chosen when a test needs a provider that fails or takes its time) and
# the failing listener are enabled, idle until a test turns them on.
pytestmark = pytest.mark.learning_env(
    enable=[ScriptedLLMProvider, FailingTicketListener], starter_chunks=True,
    # Many searches per learner in one test: no rate limit.
    config=[('learning', 'api_rate_limit', '0')])


@pytest.fixture
def alice(env):
    return LearnerClient(env, ALICE)


@pytest.fixture
def bob(env):
    return LearnerClient(env, BOB)


@pytest.fixture
def admin(env):
    return LearnerClient(env, ADMIN_SUB, groups=('Administrators',))


def assert_study_order(detail, tickets):
    """`detail` lists exactly the path's `tickets`, each after the
    concepts of the path it needs."""
    order = [c['ticket_id'] for c in detail['concepts']]
    assert sorted(order) == sorted(t['ticket_id'] for t in tickets)
    for concept in detail['concepts']:
        for prerequisite in concept['prerequisites']:
            if prerequisite in order:
                assert order.index(prerequisite) < \
                    order.index(concept['ticket_id'])


def assert_error(response, status, code=None):
    assert response.status == status, response
    assert response.header('Content-Type').startswith('application/json')
    error = response.json()['error']
    assert error['message']
    if code is not None:
        assert error['code'] == code, error
    return error


def count(env, table):
    (n,), = env.db_query(sql(env, 'SELECT COUNT(*) FROM %s' % table))
    return n


def written_rows(env):
    return {table: count(env, table) for table in WRITTEN_TABLES}


def concept_tickets(env, owner):
    return [Ticket(env, tid) for tid, in env.db_query(
        "SELECT id FROM ticket WHERE type=%s AND owner=%s ORDER BY id",
        (CONCEPT_TICKET_TYPE, owner))]


def custom_fields(env, ticket_id):
    return dict(env.db_query("SELECT name, value FROM ticket_custom "
                             "WHERE ticket=%s", (ticket_id,)))


def metadata(env, ticket_id):
    rows = env.db_query(sql(env, """
        SELECT chunk_id, relevance, cosine, expected_answer,
               question_generated
        FROM {concept_metadata} WHERE ticket_id=%s"""), (ticket_id,))
    return rows[0] if rows else None


def prerequisite_links(env):
    return set(env.db_query(sql(env, """
        SELECT concept_ticket_id, prerequisite_ticket_id
        FROM {prerequisites}""")))


def with_chunk_ids(env, created):
    """The create response with each ticket's chunk id (`_chunk_id`) added,
    from the concept metadata: the response names tickets, not chunks."""
    for ticket in created['tickets']:
        ticket['_chunk_id'] = metadata(env, ticket['ticket_id'])[0]
    return created


def by_chunk(created):
    """`{chunk_id: ticket}` of a create response `with_chunk_ids`."""
    return {ticket['_chunk_id']: ticket for ticket in created['tickets']}


def starter_vector(env, chunk_id):
    chunks, vectors, _model = starter_chunks_and_vectors(env)
    position = [c['id'] for c in chunks].index(chunk_id)
    return vectors[position]


def add_chunk(env, chunk, like):
    """Upsert `chunk` with the embedding of starter chunk `like`, so the
    searches finding `like` find it too."""
    _chunks, _vectors, model = starter_chunks_and_vectors(env)
    vector = starter_vector(env, like)
    LearningChunkStore(env).store.upsert(
        [dict({'difficulty_level': 2, 'source': 'test',
               'has_prerequisite': None, 'prerequisite_for': None}, **chunk)],
        np.array([vector], dtype=np.float32), model)


def progress(env, sub, ticket_id, status):
    now = int(time.time() * 1000000)
    with env.db_transaction as db:
        db(sql(env, """
            INSERT INTO {progress} (cognito_user_id, ticket_id, status,
                                    started_at, completed_at)
            VALUES (%s, %s, %s, %s, %s)"""),
           (sub, ticket_id, status, now,
            now if status == 'mastered' else None))


# generate -----------------------------------------------------------------

def test_generate_returns_relevant_chunks_best_first_with_contract_fields(
        env, alice):
    response = alice.generate(BLOCKCHAIN)
    assert response.status == 200, response
    result = response.json()
    assert result['query'] == BLOCKCHAIN
    found = result['chunks']
    # Search results first, then the foundations they need.
    chunks = [chunk for chunk in found if not chunk['foundation_for']]
    foundations = found[len(chunks):]
    assert found[:len(chunks)] == chunks
    assert 0 < len(chunks) <= 20
    assert 'message' not in result
    threshold = SearchPipeline(env).relevance_threshold
    assert threshold == 0.65
    names = {chunk['concept'] for chunk in chunks}
    for chunk in foundations:
        assert set(chunk) == CHUNK_FIELDS
        assert chunk['relevance'] is None and -1 <= chunk['cosine'] <= 1
        assert chunk['foundation_for'] and \
            set(chunk['foundation_for']) <= names
    for chunk in chunks:
        assert set(chunk) == CHUNK_FIELDS
        assert threshold <= chunk['relevance'] <= 1
        assert -1 <= chunk['cosine'] <= 1
        assert 1 <= chunk['difficulty_level'] <= 5
        assert chunk['content'] and chunk['concept']
    relevances = [chunk['relevance'] for chunk in chunks]
    assert relevances == sorted(relevances, reverse=True)
    assert len({chunk['chunk_id'] for chunk in chunks}) == len(chunks)
    # The query is about blockchains: so are the chunks.
    assert {chunk['subject'] for chunk in chunks} == {SUBJECT}


def test_generate_finds_at_most_twenty_chunks(env, alice):
    chunks = alice.chunks('blockchain')
    assert len([c for c in chunks if not c['foundation_for']]) == 20


def test_generate_answers_from_the_cache_the_second_time(env, alice, bob):
    first = alice.generate(BLOCKCHAIN).json()
    assert first['cached'] is False
    second = alice.generate(BLOCKCHAIN).json()
    assert second['cached'] is True
    assert second['chunks'] == first['chunks']
    # The same query, written differently, is the same search.
    again = alice.generate('  i want to UNDERSTAND   blockchain '
                           'technology ').json()
    assert again['cached'] is True
    # Results are cached per learner.
    assert bob.generate(BLOCKCHAIN).json()['cached'] is False


def test_a_result_cached_before_foundations_is_searched_again(env, alice):
    first = alice.generate(BLOCKCHAIN).json()
    old_shape = {'chunks': [{k: v for k, v in chunk.items()
                             if k not in ('foundation_for', 'lexical')}
                            for chunk in first['chunks']
                            if not chunk['foundation_for']]}
    for stale in (old_shape, {'chunks': [], 'message': 'Nothing relevant'}):
        LearningCache(env).set(search_key(BLOCKCHAIN, ALICE), stale, 60)
        again = alice.generate(BLOCKCHAIN).json()
        assert again['cached'] is False
        assert again['chunks'] == first['chunks']
        cached = alice.generate(BLOCKCHAIN).json()
        assert cached['cached'] is True and 'shape' not in cached


def test_off_topic_query_answers_200_with_no_chunks_and_a_message(
        env, alice):
    response = alice.generate(OFF_TOPIC)
    assert response.status == 200, response
    result = response.json()
    assert result['chunks'] == []
    assert result['message']
    assert result['cached'] is False


@pytest.mark.parametrize('body', [
    {},
    {'query': None},
    {'query': ''},
    {'query': 'ab'},
    {'query': '  ab  '},
    {'query': 'x' * 501},
    {'query': 42},
    {'query': ['blockchain']},
    {'query': {'text': 'blockchain'}},
], ids=['missing', 'null', 'empty', 'two-characters', 'two-after-strip',
        '501-characters', 'number', 'list', 'object'])
def test_generate_refuses_a_missing_short_long_or_non_string_query(
        env, alice, body):
    assert_error(alice.api('POST', '/learning-paths/generate', body), 400, 'invalid_query')


def test_generate_accepts_queries_of_three_and_of_500_characters(
        env, alice):
    assert alice.generate('DNA').status == 200
    assert alice.generate('blockchain ' * 45 + 'x' * 5).status == 200


@pytest.mark.parametrize('difficulty', [0, 6, -1, '3', True, 2.5, [3]],
                         ids=['zero', 'six', 'negative', 'string', 'true',
                              'fraction', 'list'])
def test_generate_refuses_a_difficulty_that_is_not_1_to_5(
        env, alice, difficulty):
    response = alice.generate(BLOCKCHAIN, difficulty=difficulty)
    assert_error(response, 400, 'invalid_difficulty')


@pytest.mark.parametrize('method, path', [
    ('POST', '/generate'), ('POST', '/create'), ('GET', ''),
    ('GET', '/%s' % uuid.UUID(int=1))])
def test_learning_paths_api_without_credentials_is_401(env, method, path):
    body = {'query': BLOCKCHAIN} if method == 'POST' else None
    response = call(env, method, API + path, body=body)
    assert_error(response, 401, 'unauthorized')
    assert response.header('WWW-Authenticate').startswith('Bearer')


def store_broken_chunk(env, chunk, like, broken):
    """Put `chunk` into the store with the embedding of starter chunk
    `like`, its field `broken` blank. Through the store's upsert when it
    takes such a chunk; `LocalChunkStore.upsert` refuses it, so then the
    chunk is upserted whole and blanked in the table, as a hand-made
    import could leave it."""
    blank = dict(chunk, **{broken: '   '})
    try:
        add_chunk(env, blank, like)
        return
    except ValueError:
        pass
    add_chunk(env, chunk, like)
    with env.db_transaction as db:
        db(sql(env, "UPDATE {chunks} SET %s='   ' WHERE id=%%s" % broken),
           (chunk['id'],))
        mark_chunks_changed(db)


def test_a_chunk_without_content_or_concept_is_never_offered(env, alice):
    # FR-LP-2.5: both broken chunks are as near the query as its two best
    # chunks.
    top = alice.chunks(BLOCKCHAIN)
    LearningCache(env).delete(search_key(BLOCKCHAIN, ALICE))
    store_broken_chunk(env, {'id': 'broken_content', 'subject': SUBJECT,
                             'concept': 'Contentless Concept',
                             'content': 'Soon gone.'},
                       like=top[0]['chunk_id'], broken='content')
    store_broken_chunk(env, {'id': 'broken_concept', 'subject': SUBJECT,
                             'concept': 'Nameless Concept',
                             'content': 'A chunk that loses its name.'},
                       like=top[1]['chunk_id'], broken='concept')
    # The store holds and finds both...
    store = LearningChunkStore(env).store
    nearest = {chunk['id'] for best in top[:2] for chunk, _cosine in
               store.search(starter_vector(env, best['chunk_id']), 2)}
    assert {'broken_content', 'broken_concept'} <= nearest
    # ... and neither is offered, nor accepted by create.
    chunks = alice.generate(BLOCKCHAIN).json()['chunks']
    ids = {chunk['chunk_id'] for chunk in chunks}
    assert not ids & {'broken_content', 'broken_concept'}
    assert {top[0]['chunk_id'], top[1]['chunk_id']} <= ids
    response = alice.create(BLOCKCHAIN, chunk_ids=['broken_content'])
    assert_error(response, 400, 'unknown_chunks')
    created = with_chunk_ids(env, alice.create_path(BLOCKCHAIN))
    assert not set(by_chunk(created)) & {'broken_content', 'broken_concept'}


# create: what it writes -----------------------------------------------------

def test_create_makes_concept_tickets_owned_by_the_learner(env, alice):
    chunks = alice.chunks(BLOCKCHAIN)[:5]
    created = alice.create_path(BLOCKCHAIN,
                                [chunk['chunk_id'] for chunk in chunks])
    assert set(created) == {'path_id', 'roadmap_url', 'path_url', 'tickets',
                            'skipped'}
    assert created['path_url'].endswith('/learning/paths/' +
                                        created['path_id'])
    assert uuid.UUID(created['path_id'])
    assert created['roadmap_url'].endswith('/roadmap')
    assert created['skipped'] == []
    assert [t['concept'] for t in created['tickets']] == \
        [chunk['concept'] for chunk in chunks]
    for ticket_json, chunk in zip(created['tickets'], chunks):
        assert set(ticket_json) == {'ticket_id', 'concept', 'subject',
                                    'question', 'prerequisites', 'reused'}
        assert ticket_json['reused'] is False
        assert ticket_json['subject'] == chunk['subject']
        ticket = Ticket(env, ticket_json['ticket_id'])
        assert ticket['type'] == CONCEPT_TICKET_TYPE
        assert ticket['owner'] == ALICE
        assert ticket['reporter'] == 'learning-system'
        assert ticket['status'] == 'new'
        assert ticket['summary'] == chunk['concept']
        assert ticket['milestone'] == chunk['subject']
        assert ticket['question'] == ticket_json['question']
        assert chunk['concept'].lower() in ticket['question'].lower()
        assert ticket['question_difficulty'] == \
            str(chunk['difficulty_level'])
        assert ticket['question_context'] == BLOCKCHAIN
        assert chunk['content'] in ticket['description']
    assert Milestone(env, SUBJECT).name == SUBJECT
    assert len(concept_tickets(env, ALICE)) == 5


def test_create_keeps_the_expected_answer_in_concept_metadata_only(
        env, alice):
    chunks = alice.chunks(BLOCKCHAIN)[:3]
    created = alice.create_path(BLOCKCHAIN,
                                [chunk['chunk_id'] for chunk in chunks])
    for ticket_json, chunk in zip(created['tickets'], chunks):
        ticket_id = ticket_json['ticket_id']
        assert set(custom_fields(env, ticket_id)) == \
            {'question', 'question_difficulty', 'question_context'}
        chunk_id, relevance, cosine, expected, generated = \
            metadata(env, ticket_id)
        assert chunk_id == chunk['chunk_id']
        assert relevance == pytest.approx(chunk['relevance'], abs=1e-4)
        assert cosine == pytest.approx(chunk['cosine'], abs=1e-4)
        assert bool(generated) is True
        # The expected answer is the chunk's key sentences...
        assert expected and expected.split('. ')[0] in chunk['content']
        # ... and not a custom field, which forms, queries and CSV
        # exports would show.
        assert expected not in custom_fields(env, ticket_id).values()


def test_create_records_the_path_and_its_concepts_in_order(env, alice):
    chunks = alice.chunks(BLOCKCHAIN)[:4]
    created = alice.create_path(BLOCKCHAIN,
                                [chunk['chunk_id'] for chunk in chunks],
                                difficulty=4)
    (title, query, owner, total, difficulty), = env.db_query(sql(env, """
        SELECT title, query_text, cognito_user_id, total_chunks,
               question_difficulty
        FROM {paths} WHERE id=%s"""), (created['path_id'],))
    assert (query, owner, total, difficulty) == (BLOCKCHAIN, ALICE, 4, 4)
    assert title == 'blockchain technology'
    positions = env.db_query(sql(env, """
        SELECT ticket_id FROM {path_concepts} WHERE path_id=%s
        ORDER BY position"""), (created['path_id'],))
    assert [t for t, in positions] == \
        [t['ticket_id'] for t in created['tickets']]


def test_a_path_title_is_at_most_200_characters(env, alice):
    query = 'blockchain consensus ' * 23 + 'x' * 17
    assert len(query) == 500
    created = alice.create_path(query, [alice.chunks(query)[0]['chunk_id']])
    title = alice.learning_paths('/' + created['path_id']).json()['title']
    assert len(title) == 200
    assert title.endswith('\u2026')
    assert query.startswith(title[:-1])


def test_create_writes_questions_at_the_requested_difficulty(env, alice):
    chunks = alice.chunks(BLOCKCHAIN)[:3]
    created = alice.create_path(BLOCKCHAIN,
                                [chunk['chunk_id'] for chunk in chunks],
                                difficulty=5)
    for ticket_json, chunk in zip(created['tickets'], chunks):
        assert ticket_json['question'] == OfflineLLMProvider(
            env).generate_question(chunk['concept'], chunk['content'], 5,
                                   BLOCKCHAIN).question
        assert Ticket(env, ticket_json['ticket_id'])[
            'question_difficulty'] == '5'


def test_create_honours_a_subset_of_chunk_ids(env, alice):
    chunks = alice.chunks(BLOCKCHAIN)
    wanted = [chunks[7]['chunk_id'], chunks[2]['chunk_id'],
              chunks[11]['chunk_id'], chunks[2]['chunk_id']]
    created = with_chunk_ids(env, alice.create_path(BLOCKCHAIN, wanted))
    # Each chunk once, in the path's (relevance) order.
    assert [t['_chunk_id'] for t in created['tickets']] == \
        [chunks[i]['chunk_id'] for i in (2, 7, 11)]
    assert len(concept_tickets(env, ALICE)) == 3


def test_create_without_chunk_ids_takes_every_chunk_found(env, alice):
    chunks = alice.chunks(BLOCKCHAIN)
    created = with_chunk_ids(env, alice.create_path(BLOCKCHAIN))
    assert [t['_chunk_id'] for t in created['tickets']] == \
        [chunk['chunk_id'] for chunk in chunks]


def test_create_runs_the_search_again_when_it_is_no_longer_cached(
        env, alice):
    chunks = alice.chunks(BLOCKCHAIN)
    LearningCache(env).delete(search_key(BLOCKCHAIN, ALICE))
    created = with_chunk_ids(env, alice.create_path(
        BLOCKCHAIN, [chunks[0]['chunk_id']]))
    assert [t['_chunk_id'] for t in created['tickets']] == \
        [chunks[0]['chunk_id']]


def test_create_links_a_concept_to_its_prerequisite(env, alice):
    found = {chunk['chunk_id']: chunk for chunk in alice.chunks(SIGNATURES)}
    assert found[SIGNING]['concept'] == 'Digital Signatures'
    assert 'Cryptographic Hash Functions' in \
        found[SIGNING]['has_prerequisite']
    assert found[HASHES]['concept'] == 'Cryptographic Hash Functions'
    created = with_chunk_ids(env, alice.create_path(
        SIGNATURES, [SIGNING, HASHES]))
    tickets = by_chunk(created)
    signing, hashes = tickets[SIGNING], tickets[HASHES]
    assert prerequisite_links(env) == {(signing['ticket_id'],
                                        hashes['ticket_id'])}
    assert signing['prerequisites'] == [hashes['ticket_id']]
    assert hashes['prerequisites'] == []
    detail = alice.learning_paths('/' + created['path_id']).json()
    concepts = {c['ticket_id']: c for c in detail['concepts']}
    assert concepts[signing['ticket_id']]['prerequisites'] == \
        [hashes['ticket_id']]
    assert concepts[signing['ticket_id']]['locked'] is True
    assert concepts[hashes['ticket_id']]['locked'] is False


def test_prerequisites_link_to_concepts_of_the_learners_earlier_paths(
        env, alice):
    alice.chunks(SIGNATURES)
    first = alice.create_path(SIGNATURES, [HASHES])
    second = alice.create_path(SIGNATURES, [SIGNING])
    hashes = first['tickets'][0]['ticket_id']
    signing = second['tickets'][0]['ticket_id']
    assert prerequisite_links(env) == {(signing, hashes)}
    assert second['tickets'][0]['prerequisites'] == [hashes]


def test_prerequisites_never_link_two_learners_concepts(env, alice, bob):
    alice.chunks(SIGNATURES)
    bob.chunks(SIGNATURES)
    alice_hashes = alice.create_path(SIGNATURES, [HASHES])
    bob_signing = bob.create_path(SIGNATURES, [SIGNING])
    assert prerequisite_links(env) == set()
    assert bob_signing['tickets'][0]['prerequisites'] == []
    # Bob's own hashes concept gets the link, not Alice's.
    bob_hashes = bob.create_path(SIGNATURES, [HASHES])
    assert prerequisite_links(env) == {
        (bob_signing['tickets'][0]['ticket_id'],
         bob_hashes['tickets'][0]['ticket_id'])}
    assert alice_hashes['tickets'][0]['ticket_id'] != \
        bob_hashes['tickets'][0]['ticket_id']


def test_chunk_content_shows_as_plain_text_on_the_ticket_page(env, alice):
    # The hostile chunk carries the embedding of the best blockchain hit,
    # so the blockchain search finds it.
    best = alice.chunks(BLOCKCHAIN)[0]
    LearningCache(env).delete(search_key(BLOCKCHAIN, ALICE))
    add_chunk(env, {'id': 'hostile_01', 'subject': SUBJECT,
                    'concept': 'Hostile Markup', 'content': HOSTILE_CONTENT},
              like=best['chunk_id'])
    chunks = {c['chunk_id']: c for c in alice.chunks(BLOCKCHAIN)}
    assert chunks['hostile_01']['content'] == HOSTILE_CONTENT
    created = alice.create_path(BLOCKCHAIN, ['hostile_01'])
    ticket_id = created['tickets'][0]['ticket_id']
    assert Ticket(env, ticket_id)['description'].startswith(
        '{{{#!text/plain\n')
    PermissionSystem(env).grant_permission('authenticated', 'TICKET_VIEW')

    page = call(env, 'GET', '/ticket/%d' % ticket_id, cookies=alice.cookies)
    assert page.status == 200, page
    html = page.text
    # No markup of the chunk was evaluated...
    assert 'evil.example' in html
    assert not re.search(r'<img[^>]*evil\.example', html)
    assert not re.search(r'<a[^>]*href="http://evil\.example', html)
    assert "<script>alert('pwned')" not in html
    assert not re.search(r'<[a-z]+[^<>]*onerror=', html)
    # ... it shows as the text it is.
    assert '[[Image(http://evil.example/pwn.png)]]' in html
    assert '&lt;script&gt;alert(' in html
    assert '&lt;img src=' in html


def rendered_description(html):
    """The text of the description's plain-text block on a ticket page."""
    found = re.search(r'<div class="searchable">\s*<div class="wiki-code">'
                      r'<div class="code">'
                      r'<pre>(.*?)</pre>', html, re.S)
    assert found, html
    return unescape(found.group(1))


def test_chunk_text_with_a_processor_line_shows_exactly_as_written(
        env, alice):
    best = alice.chunks(BLOCKCHAIN)[0]
    LearningCache(env).delete(search_key(BLOCKCHAIN, ALICE))
    content = ('A chunk quoting wiki syntax, because editors write about '
               'it:\n{{{#!python\nprint(1)\nand more text after it.')
    add_chunk(env, {'id': 'quoting_01', 'subject': SUBJECT,
                    'concept': 'Quoting Wiki Syntax', 'content': content},
              like=best['chunk_id'])
    alice.chunks(BLOCKCHAIN)
    created = alice.create_path(BLOCKCHAIN, ['quoting_01'])
    PermissionSystem(env).grant_permission('authenticated', 'TICKET_VIEW')
    page = call(env, 'GET', '/ticket/%d' % created['tickets'][0]['ticket_id'],
                cookies=alice.cookies)
    assert page.status == 200, page
    # Zero-width spaces keep `{{{`/`}}}` in the text from nesting or
    # closing the block; a reader sees the text as written.
    assert rendered_description(page.text).replace('\u200b', '').strip() \
        == content


# create: refusals -----------------------------------------------------------

@pytest.mark.parametrize('chunk_ids', [
    'bc_01', {'bc_01': True}, 7, [1, 2], ['bc_01', None], [''],
    ['bc_%02d' % i for i in range(51)],
], ids=['string', 'object', 'number', 'numbers', 'null-item', 'empty-id',
        '51-ids'])
def test_create_refuses_chunk_ids_that_are_not_a_list_of_ids(
        env, alice, chunk_ids):
    alice.chunks(BLOCKCHAIN)
    response = alice.create(BLOCKCHAIN, chunk_ids=chunk_ids)
    assert_error(response, 400, 'invalid_chunk_ids')
    assert written_rows(env)['ticket'] == 0


def test_create_refuses_chunks_of_another_querys_results(env, alice):
    blockchain = {c['chunk_id'] for c in alice.chunks(BLOCKCHAIN)}
    other = [c['chunk_id'] for c in alice.chunks(MACHINE_LEARNING)
             if c['chunk_id'] not in blockchain][0]
    mine = sorted(blockchain)[0]
    response = alice.create(BLOCKCHAIN, chunk_ids=[mine, other])
    error = assert_error(response, 400, 'unknown_chunks')
    assert other in error['message']
    assert mine not in error['message']
    assert written_rows(env)['ticket'] == 0
    assert count(env, '{paths}') == 0


def test_create_refuses_chunk_ids_nobody_found(env, alice):
    alice.chunks(BLOCKCHAIN)
    response = alice.create(BLOCKCHAIN,
                            chunk_ids=['no_such_chunk_%d' % i
                                       for i in range(50)])
    assert_error(response, 400, 'unknown_chunks')


def test_create_with_no_chunks_to_learn_from_is_400(env, alice):
    assert_error(alice.create(OFF_TOPIC), 400, 'nothing_to_create')
    alice.chunks(BLOCKCHAIN)
    assert_error(alice.create(BLOCKCHAIN, chunk_ids=[]), 400,
                 'nothing_to_create')
    assert count(env, '{paths}') == 0


@pytest.mark.parametrize('body, code', [
    ({}, 'invalid_query'),
    ({'query': 'ab'}, 'invalid_query'),
    ({'query': 'x' * 501}, 'invalid_query'),
    ({'query': 3.14}, 'invalid_query'),
    ({'query': BLOCKCHAIN, 'difficulty': 0}, 'invalid_difficulty'),
    ({'query': BLOCKCHAIN, 'difficulty': 6}, 'invalid_difficulty'),
    ({'query': BLOCKCHAIN, 'difficulty': '3'}, 'invalid_difficulty'),
    ({'query': BLOCKCHAIN, 'difficulty': True}, 'invalid_difficulty'),
], ids=['missing-query', 'short-query', 'long-query', 'number-query',
        'difficulty-0', 'difficulty-6', 'difficulty-string',
        'difficulty-true'])
def test_create_refuses_an_invalid_query_or_difficulty(env, alice, body,
                                                       code):
    assert_error(alice.api('POST', '/learning-paths/create', body), 400, code)
    assert count(env, '{paths}') == 0


def test_create_with_a_cookie_and_no_csrf_token_is_403(env, alice):
    response = call(env, 'POST', API + '/create', body={'query': BLOCKCHAIN},
                    cookies=alice.cookies)
    assert_error(response, 403, 'csrf_token_invalid')
    assert count(env, '{paths}') == 0


# create: reuse --------------------------------------------------------------

def test_a_second_path_reuses_the_learners_concepts(env, alice):
    chunks = [c['chunk_id'] for c in alice.chunks(BLOCKCHAIN)]
    first = with_chunk_ids(env, alice.create_path(BLOCKCHAIN, chunks[:5]))
    second = with_chunk_ids(env, alice.create_path(BLOCKCHAIN, chunks[3:8]))
    assert second['path_id'] != first['path_id']
    old = by_chunk(first)
    reused = {t['_chunk_id']: t for t in second['tickets'] if t['reused']}
    fresh = {t['_chunk_id']: t for t in second['tickets'] if not t['reused']}
    assert set(reused) == set(chunks[3:5])
    assert set(fresh) == set(chunks[5:8])
    for chunk_id, ticket in reused.items():
        assert ticket['ticket_id'] == old[chunk_id]['ticket_id']
        assert ticket['question'] == old[chunk_id]['question']
    # No duplicates: one ticket and one metadata row per chunk.
    assert len(concept_tickets(env, ALICE)) == 8
    assert count(env, '{concept_metadata}') == 8
    assert count(env, '{path_concepts}') == 10
    detail = alice.learning_paths('/' + second['path_id']).json()
    assert_study_order(detail, second['tickets'])
    # The same path once more reuses everything.
    third = alice.create_path(BLOCKCHAIN, chunks[:5])
    assert all(t['reused'] for t in third['tickets'])
    assert len(concept_tickets(env, ALICE)) == 8


def test_two_learners_get_their_own_tickets_for_the_same_chunk(
        env, alice, bob):
    ids = [c['chunk_id'] for c in alice.chunks(BLOCKCHAIN)[:3]]
    bob.chunks(BLOCKCHAIN)
    alices = alice.create_path(BLOCKCHAIN, ids)
    bobs = bob.create_path(BLOCKCHAIN, ids)
    assert not any(t['reused'] for t in bobs['tickets'])
    alice_ids = {t['ticket_id'] for t in alices['tickets']}
    bob_ids = {t['ticket_id'] for t in bobs['tickets']}
    assert len(alice_ids) == len(bob_ids) == 3
    assert not alice_ids & bob_ids
    assert {Ticket(env, t)['owner'] for t in bob_ids} == {BOB}
    assert {Ticket(env, t)['owner'] for t in alice_ids} == {ALICE}


@pytest.mark.postgres
@pytest.mark.parametrize('db_uri', ['postgres'], indirect=True)
def test_two_creates_at_once_do_not_duplicate_the_learners_concepts(
        env, alice):
    # PostgreSQL only: the stub's in-memory SQLite has one connection for
    # every thread, so two transactions cannot overlap there.
    ids = [c['chunk_id'] for c in alice.chunks(BLOCKCHAIN)[:3]]
    alice.create_path(BLOCKCHAIN, ids[:1])   # the milestone exists
    listener = FailingTicketListener(env)
    second = {}

    def create_again():
        second['response'] = alice.create(BLOCKCHAIN, chunk_ids=ids)

    threads = []

    def ticket_created(ticket):
        # While the first create's transaction is open, a second one for
        # the same chunks starts and is given time to decide what is new.
        if not second:
            second['started'] = True
            thread = threading.Thread(target=create_again)
            thread.start()
            threads.append(thread)
            time.sleep(0.5)
    listener.ticket_created = ticket_created
    first = alice.create(BLOCKCHAIN, chunk_ids=ids)
    threads[0].join(60)
    assert first.status == 201, first
    assert second['response'].status == 201, second['response']
    chunk_ids = [metadata(env, t.id)[0] for t in concept_tickets(env, ALICE)]
    assert sorted(chunk_ids) == sorted(ids)


# list and read ------------------------------------------------------------

def test_list_shows_the_learners_paths_newest_first_with_counts(
        env, alice, bob):
    chunks = [c['chunk_id'] for c in alice.chunks(BLOCKCHAIN)]
    alice.chunks(MACHINE_LEARNING)
    bob.chunks(BLOCKCHAIN)
    older = alice.create_path(BLOCKCHAIN, chunks[:4])
    newer = alice.create_path(MACHINE_LEARNING)
    bob.create_path(BLOCKCHAIN, chunks[:2])
    progress(env, ALICE, older['tickets'][0]['ticket_id'], 'mastered')
    progress(env, ALICE, older['tickets'][1]['ticket_id'], 'studying')

    response = alice.learning_paths()
    assert response.status == 200, response
    paths = response.json()['paths']
    assert [p['path_id'] for p in paths] == [newer['path_id'],
                                             older['path_id']]
    for path in paths:
        assert set(path) == {'path_id', 'title', 'query', 'created_at',
                             'total', 'mastered', 'studying', 'completion'}
        assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$',
                        path['created_at'])
    first, second = paths
    assert (first['query'], first['title']) == (MACHINE_LEARNING,
                                                MACHINE_LEARNING)
    assert (first['total'], first['mastered'], first['studying'],
            first['completion']) == (len(newer['tickets']), 0, 0, 0)
    assert second['query'] == BLOCKCHAIN
    assert (second['total'], second['mastered'], second['studying'],
            second['completion']) == (4, 1, 1, 25.0)
    assert [p['total'] for p in bob.learning_paths().json()['paths']] == [2]


def test_list_is_empty_for_a_learner_without_paths(env, alice):
    response = alice.learning_paths()
    assert response.status == 200, response
    assert response.json() == {'paths': []}


def test_owner_reads_a_path_with_its_concepts(env, alice):
    chunks = alice.chunks(BLOCKCHAIN)[:5]
    created = alice.create_path(BLOCKCHAIN,
                                [chunk['chunk_id'] for chunk in chunks])
    progress(env, ALICE, created['tickets'][2]['ticket_id'], 'studying')
    response = alice.learning_paths('/' + created['path_id'])
    assert response.status == 200, response
    detail = response.json()
    assert detail['path_id'] == created['path_id']
    assert detail['query'] == BLOCKCHAIN
    assert (detail['total'], detail['studying'], detail['mastered']) == \
        (5, 1, 0)
    assert_study_order(detail, created['tickets'])
    by_ticket = {t['ticket_id']: chunk
                 for t, chunk in zip(created['tickets'], chunks)}
    for concept in detail['concepts']:
        chunk = by_ticket[concept['ticket_id']]
        assert set(concept) == {'ticket_id', 'concept', 'subject', 'status',
                                'score', 'best_score', 'prerequisites',
                                'locked', 'unlocks', 'difficulty'}
        assert (concept['concept'], concept['subject']) == \
            (chunk['concept'], chunk['subject'])
        assert concept['score'] is None and concept['best_score'] is None
    assert [c['status'] for c in detail['concepts']] == \
        ['not_started', 'not_started', 'studying', 'not_started',
         'not_started']


def test_another_learners_path_is_404(env, alice, bob):
    alice.chunks(BLOCKCHAIN)
    created = alice.create_path(BLOCKCHAIN)
    response = bob.learning_paths('/' + created['path_id'])
    error = assert_error(response, 404, 'not_found')
    assert created['path_id'] not in error['message']
    # As for a path that does not exist.
    assert_error(bob.learning_paths('/%s' % uuid.uuid4()), 404, 'not_found')
    assert bob.learning_paths().json() == {'paths': []}


@pytest.mark.parametrize('path_id', [
    'not-a-uuid', '12345', "1' OR '1'='1",
    '%s-0' % uuid.UUID(int=7), 'g' * 8 + '-0000-0000-0000-' + '0' * 12])
def test_a_malformed_path_id_is_404(env, alice, path_id):
    assert_error(alice.learning_paths('/' + path_id), 404, 'not_found')


def test_learning_admin_reads_a_learners_paths_with_user(env, alice, admin):
    alice.chunks(BLOCKCHAIN)
    created = alice.create_path(BLOCKCHAIN)
    path = '/' + created['path_id']
    response = admin.learning_paths(path, query='user=' + ALICE)
    assert response.status == 200, response
    assert response.json() == alice.learning_paths(path).json()
    listed = admin.learning_paths(query='user=' + ALICE).json()['paths']
    assert [p['path_id'] for p in listed] == [created['path_id']]
    # Without ?user=, the admin reads their own (no) paths.
    assert_error(admin.learning_paths(path), 404)
    assert admin.learning_paths().json() == {'paths': []}


def test_a_learner_reading_another_user_is_refused_with_403(
        env, alice, bob):
    alice.chunks(BLOCKCHAIN)
    created = alice.create_path(BLOCKCHAIN)
    assert_error(bob.learning_paths('/' + created['path_id'], query='user=' + ALICE),
                 403)
    assert_error(bob.learning_paths(query='user=' + ALICE), 403)
    # Naming themselves is fine.
    assert bob.learning_paths(query='user=' + BOB).status == 200


# one transaction ----------------------------------------------------------

def fail_ticket_insert(env, monkeypatch, at=5):
    """Make the `at`th concept ticket insert fail as a lost connection;
    return a function that heals it."""
    import tracl.model.paths
    original = tracl.model.paths._insert_concept_ticket
    calls = []

    def insert(*args, **kwargs):
        calls.append(1)
        if len(calls) == at:
            raise env.db_exc.OperationalError(
                'injected: server closed the connection unexpectedly')
        return original(*args, **kwargs)
    monkeypatch.setattr(tracl.model.paths, '_insert_concept_ticket', insert)
    return lambda: monkeypatch.setattr(
        tracl.model.paths, '_insert_concept_ticket', original)


def fail_ticket_listener(env, monkeypatch, at=5):
    """Make a ticket listener fail as a lost connection when told of the
    `at`th new ticket; return a function that heals it."""
    listener = FailingTicketListener(env)
    listener.fail_at, listener.created = at, 0

    def heal():
        listener.fail_at = None
    return heal


@pytest.mark.parametrize('inject', [fail_ticket_insert, fail_ticket_listener],
                         ids=['ticket-insert-fails', 'listener-fails'])
def test_a_database_failure_mid_way_writes_nothing(env, alice, monkeypatch,
                                                   inject):
    chunks = alice.chunks(BLOCKCHAIN)
    assert SIGNING in [c['chunk_id'] for c in chunks]
    alice.chunks(SIGNATURES)
    # A concept the failing path reuses and links to ('Wallets and Keys'
    # and others need 'Digital Signatures'), written before the failure.
    earlier = alice.create_path(SIGNATURES, [SIGNING])
    before = written_rows(env)
    heal = inject(env, monkeypatch)

    response = alice.create(BLOCKCHAIN)
    assert_error(response, 503, 'database_unavailable')
    assert response.header('Retry-After')
    assert written_rows(env) == before
    assert [p['path_id'] for p in alice.learning_paths().json()['paths']] == \
        [earlier['path_id']]

    # Nothing is left half-done: the same call succeeds afterwards.
    heal()
    created = with_chunk_ids(env, alice.create_path(BLOCKCHAIN))
    assert len(created['tickets']) == len(chunks)
    assert [t['_chunk_id'] for t in created['tickets'] if t['reused']] == \
        [SIGNING]
    assert len(concept_tickets(env, ALICE)) == len(chunks)
    assert prerequisite_links(env)


def test_a_database_failure_creates_no_milestone(env, alice, monkeypatch):
    # The failure comes at the last concept: by then a milestone exists for
    # each subject of the path.
    chunks = alice.chunks(TWO_SUBJECTS)
    subjects = {chunk['subject'] for chunk in chunks}
    assert len(subjects) == 2
    fail_ticket_insert(env, monkeypatch, at=len(chunks))
    assert_error(alice.create(TWO_SUBJECTS), 503, 'database_unavailable')
    assert written_rows(env) == dict.fromkeys(WRITTEN_TABLES, 0)
    next_request(env)
    assert list(Milestone.select(env, include_completed=True)) == []


def another_process_adds_a_milestone(env, name):
    """What `Milestone.insert` does in another server process: the row,
    and the invalidation of Trac's milestone and ticket-field caches in
    the shared `cache` table (`CacheManager.invalidate`'s SQL)."""
    with env.db_transaction as db:
        db("INSERT INTO milestone (name, due, completed, description) "
           "VALUES (%s, 0, 0, '')", (name,))
        for key in ('trac.ticket.model.MilestoneCache.milestones',
                    'trac.ticket.api.TicketSystem.fields'):
            cache_id = key_to_id(key)
            db("UPDATE cache SET generation=generation+1 WHERE id=%s",
               (cache_id,))
            if not db("SELECT generation FROM cache WHERE id=%s",
                      (cache_id,)):
                db("INSERT INTO cache VALUES (%s, %s, %s)",
                   (cache_id, 0, key))


def test_a_rolled_back_path_leaves_no_phantom_milestone_in_the_cache(
        env, alice, monkeypatch):
    alice.chunks(BLOCKCHAIN)
    heal = fail_ticket_insert(env, monkeypatch)
    assert_error(alice.create(BLOCKCHAIN), 503, 'database_unavailable')
    another_process_adds_a_milestone(env, 'Release 1.0')
    next_request(env)
    assert [m.name for m in Milestone.select(env)] == ['Release 1.0']
    heal()
    created = alice.create_path(BLOCKCHAIN)
    assert Ticket(env, created['tickets'][0]['ticket_id'])['milestone'] == \
        SUBJECT
    assert sorted(name for name, in env.db_query(
        "SELECT name FROM milestone")) == [SUBJECT, 'Release 1.0']


# questions ----------------------------------------------------------------

def use_provider(env, **script):
    """The scripted provider, chosen and given `script`; it takes several
    questions at once, as a remote model does."""
    provider = scripted_provider(env)
    provider.declared_calls = 16
    for name, value in script.items():
        setattr(provider, name, value)
    return provider


def test_concepts_without_a_question_are_skipped_and_the_rest_created(
        env, alice):
    provider = use_provider(env)
    chunks = alice.chunks(BLOCKCHAIN)
    failing = {chunks[1]['chunk_id']: chunks[1]['concept'],
               chunks[6]['chunk_id']: chunks[6]['concept']}
    provider.failing_questions = set(failing.values())

    created = with_chunk_ids(env, alice.create_path(BLOCKCHAIN))
    assert [s['chunk_id'] for s in created['skipped']] == list(failing)
    for skipped in created['skipped']:
        assert 'quota exhausted while asking about %s' \
            % failing[skipped['chunk_id']] in skipped['reason']
    assert [t['_chunk_id'] for t in created['tickets']] == \
        [c['chunk_id'] for c in chunks if c['chunk_id'] not in failing]
    summaries = {t['summary'] for t in concept_tickets(env, ALICE)}
    assert len(summaries) == len(chunks) - 2
    assert not summaries & set(failing.values())
    detail = alice.learning_paths('/' + created['path_id']).json()
    assert detail['total'] == len(chunks) - 2


def test_when_no_question_can_be_written_nothing_is_written(env, alice):
    provider = use_provider(env)
    provider.failing_questions = True
    chunks = alice.chunks(BLOCKCHAIN)
    response = alice.create(BLOCKCHAIN)
    error = assert_error(response, 503, 'llm_unavailable')
    assert response.header('Retry-After')
    assert len(error['skipped']) == len(chunks) > 20
    assert written_rows(env) == dict.fromkeys(WRITTEN_TABLES, 0)
    assert alice.learning_paths().json() == {'paths': []}


def test_a_path_of_only_reused_concepts_needs_no_new_question(env, alice):
    chunks = [c['chunk_id'] for c in alice.chunks(BLOCKCHAIN)[:3]]
    alice.create_path(BLOCKCHAIN, chunks)
    provider = use_provider(env)
    provider.failing_questions = True
    created = alice.create_path(BLOCKCHAIN, chunks)
    assert all(t['reused'] for t in created['tickets'])
    assert created['skipped'] == []


def test_questions_are_written_concurrently_and_keep_the_path_order(
        env, alice):
    env.config.set('learning', 'question_concurrency', '4')
    provider = use_provider(env, question_delay=0.3)
    chunks = alice.chunks(BLOCKCHAIN)[:10]
    created = alice.create_path(BLOCKCHAIN,
                                [chunk['chunk_id'] for chunk in chunks])
    assert provider.question_calls == 10
    # More than one question was being written at once, and no more than
    # [learning] question_concurrency.
    assert 1 < provider.most_in_flight <= 4
    assert [t['concept'] for t in created['tickets']] == \
        [chunk['concept'] for chunk in chunks]
    # Each concept got its own question, whichever finished first.
    for ticket, chunk in zip(created['tickets'], chunks):
        assert ticket['question'] == OfflineLLMProvider(
            env).generate_question(chunk['concept'], chunk['content'],
                                   chunk['difficulty_level'],
                                   BLOCKCHAIN).question
        assert Ticket(env, ticket['ticket_id'])['question'] == \
            ticket['question']
