"""Learning paths that start at the foundations, through the API on SQLite
and PostgreSQL: the search adds what its results need first, a path built
from it is complete and in study order, a foundation left out gates
nothing, and an off-corpus query says what the library holds."""

import pytest

import tracl.search.local_store  # noqa: F401 (the component)
from support.api_client import LearnerClient
from tracl.corpus import load_starter_corpus
from tracl.model.chunks import prerequisite_names

BLOCKCHAIN = 'I want to understand blockchain technology'
SIGNATURES = 'digital signatures and hash functions'
SUBJECT = 'Blockchain Fundamentals'
HASHES = 'bc_01'            # Cryptographic Hash Functions: the root

pytestmark = pytest.mark.learning_env(
    starter_chunks=True, config=[('learning', 'api_rate_limit', '0')])


@pytest.fixture
def alice(env):
    return LearnerClient(env, 'sub-alice')


def split(chunks):
    results = [c for c in chunks if not c['foundation_for']]
    return results, chunks[len(results):]


def starter_needs():
    """`{chunk_id: {ids it needs directly}}` of the starter corpus, from
    both directions of its metadata."""
    chunks = load_starter_corpus()
    by_name = {(c['subject'], c['concept']): c['id'] for c in chunks}
    needs = {}
    for c in chunks:
        for name in prerequisite_names(c['has_prerequisite']):
            needs.setdefault(c['id'], set()).add(
                by_name[(c['subject'], name)])
        for name in prerequisite_names(c['prerequisite_for']):
            needs.setdefault(by_name[(c['subject'], name)], set()).add(
                c['id'])
    return needs


def test_a_broad_query_brings_its_subjects_root_as_a_foundation(env, alice):
    chunks = alice.chunks(BLOCKCHAIN)
    results, foundations = split(chunks)
    assert HASHES not in {c['chunk_id'] for c in results}
    hashes = [c for c in foundations if c['chunk_id'] == HASHES]
    assert hashes, [c['concept'] for c in foundations]
    assert hashes[0]['relevance'] is None
    assert -1 <= hashes[0]['cosine'] <= 1
    assert {'Merkle Trees', 'Blocks and Chaining'} <= \
        set(hashes[0]['foundation_for'])
    # Foundations are what the results need, transitively, and nothing
    # else; they never repeat a result.
    needs = starter_needs()
    found = {c['chunk_id'] for c in results}
    reached, frontier = set(), list(found)
    while frontier:
        for prerequisite in needs.get(frontier.pop(), ()):
            if prerequisite not in reached:
                reached.add(prerequisite)
                frontier.append(prerequisite)
    assert {c['chunk_id'] for c in foundations} == reached - found
    names = {c['concept'] for c in results}
    for foundation in foundations:
        assert set(foundation['foundation_for']) <= names


def test_the_path_of_a_broad_query_holds_its_roots_in_study_order(
        env, alice):
    chunks = alice.chunks(BLOCKCHAIN)
    created = alice.create(BLOCKCHAIN).json()
    assert len(created['tickets']) == len(chunks)
    detail = alice.learning_paths('/' + created['path_id']).json()
    order = [c['ticket_id'] for c in detail['concepts']]
    by_name = {c['concept']: c for c in detail['concepts']}
    assert 'Cryptographic Hash Functions' in by_name
    hashes = by_name['Cryptographic Hash Functions']
    merkle = by_name['Merkle Trees']
    assert hashes['ticket_id'] in merkle['prerequisites'] and merkle['locked']
    # Every concept comes after the concepts of the path it needs.
    for concept in detail['concepts']:
        for prerequisite in concept['prerequisites']:
            if prerequisite in order:
                assert order.index(prerequisite) < \
                    order.index(concept['ticket_id'])
    # Next up: open, not mastered, and the concept that unlocks most.
    following = detail['next_up']
    assert following['start'] is True
    chosen = next(c for c in detail['concepts']
                  if c['ticket_id'] == following['ticket_id'])
    assert not chosen['locked']
    assert chosen['unlocks'] == max(c['unlocks'] for c in detail['concepts']
                                    if not c['locked'])
    assert chosen['concept'] == 'Cryptographic Hash Functions'


def test_a_foundation_left_out_gates_nothing(env, alice):
    chunks = alice.chunks(BLOCKCHAIN)
    kept = [c['chunk_id'] for c in chunks if c['chunk_id'] != HASHES]
    created = alice.create(BLOCKCHAIN, chunk_ids=kept).json()
    detail = alice.learning_paths('/' + created['path_id']).json()
    names = {c['concept'] for c in detail['concepts']}
    assert 'Cryptographic Hash Functions' not in names
    merkle = next(c for c in detail['concepts']
                  if c['concept'] == 'Merkle Trees')
    # Merkle trees needed only the hashes: nothing locks them now.
    assert merkle['prerequisites'] == [] and not merkle['locked']


def test_a_concept_the_learner_has_is_reused_as_a_foundation(env, alice):
    first = alice.create(SIGNATURES).json()
    hashes = next(t for t in first['tickets']
                  if t['concept'] == 'Cryptographic Hash Functions')
    alice.chunks(BLOCKCHAIN)
    second = alice.create(BLOCKCHAIN).json()
    reused = next(t for t in second['tickets']
                  if t['concept'] == 'Cryptographic Hash Functions')
    assert reused['ticket_id'] == hashes['ticket_id'] and reused['reused']


def test_over_the_cap_the_foundations_most_needed_stay(make_env):
    env = make_env(starter_chunks=True,
                   config=[('learning', 'api_rate_limit', '0'),
                           ('learning', 'max_foundations', '1')])
    alice = LearnerClient(env, 'sub-alice')
    _results, foundations = split(alice.chunks(BLOCKCHAIN))
    assert [c['chunk_id'] for c in foundations] == [HASHES]


def test_no_foundations_when_the_cap_is_zero(make_env):
    env = make_env(starter_chunks=True,
                   config=[('learning', 'api_rate_limit', '0'),
                           ('learning', 'max_foundations', '0')])
    alice = LearnerClient(env, 'sub-alice')
    assert all(not c['foundation_for'] for c in alice.chunks(BLOCKCHAIN))


@pytest.mark.parametrize('query', ['medieval French poetry',
                                   'teach me Rust ownership'])
def test_an_off_corpus_query_names_the_subjects_the_library_has(
        env, alice, query):
    response = alice.generate(query)
    assert response.status == 200, response
    result = response.json()
    assert result['chunks'] == []
    assert 'nothing on this' in result['message']
    for subject in (SUBJECT, 'Machine Learning', 'Cell Biology'):
        assert subject in result['message']
