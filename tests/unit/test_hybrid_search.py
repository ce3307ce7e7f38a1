"""Lexical retrieval, the prerequisite closure and their fusion with the
dense search: the pure parts, then each local store (SQLite and
PostgreSQL) holding the starter corpus, then the pipeline on a store whose
two retrievals disagree."""

import numpy as np
import pytest

import tracl.search.local_store  # noqa: F401 (the component)
from tracl.search import LearningChunkStore
from tracl.search.foundations import PrerequisiteGraph, choose_foundations
from tracl.search.lexical import LexicalIndex, query_terms
from tracl.search.pipeline import SearchPipeline
from tracl.search.relevance import (calibration_for, ranking_scores,
                                    relevances, subject_shares)

MINILM = 'sentence-transformers/all-MiniLM-L6-v2'


# Lexical retrieval --------------------------------------------------------

TEXTS = [
    'Merkle trees hash pairs of transaction hashes up to a single root.',
    'A hash function maps input of any length to a fixed-length digest.',
    'Photosynthesis turns light, water and carbon dioxide into sugar.',
    'Gradient descent follows the slope of the loss downhill.',
]


def test_the_rare_word_decides_and_scores_stay_between_zero_and_one():
    positions, scores = LexicalIndex(TEXTS).search('what is a Merkle tree?',
                                                   10)
    assert positions[0] == 0
    assert all(0 < score <= 1 for score in scores)
    assert list(scores) == sorted(scores, reverse=True)


def test_stems_match_other_forms_of_a_word():
    positions, _scores = LexicalIndex(TEXTS).search('hashing', 10)
    assert set(positions) == {0, 1}


def test_a_learners_request_words_are_not_searched():
    assert query_terms('I want to understand photosynthesis, teach me') == \
        ['photosynthesis']
    positions, _scores = LexicalIndex(TEXTS + [
        'You want to understand and learn: teach yourself.']).search(
        'I want to understand photosynthesis', 10)
    assert list(positions) == [2]


def test_words_the_library_lacks_lower_the_score():
    index = LexicalIndex(TEXTS)
    _p, alone = index.search('photosynthesis', 1)
    _p, diluted = index.search('photosynthesis sonnets troubadours', 1)
    assert alone[0] > diluted[0] > 0


def test_nothing_in_common_finds_nothing():
    for index, query in ((LexicalIndex(TEXTS), 'medieval poetry'),
                         (LexicalIndex(TEXTS), 'the of and'),
                         (LexicalIndex([]), 'hash')):
        positions, scores = index.search(query, 5)
        assert len(positions) == len(scores) == 0


def test_the_limit_keeps_the_best():
    index = LexicalIndex(TEXTS)
    everything, _s = index.search('hash digest loss light', 10)
    best, _s = index.search('hash digest loss light', 2)
    assert list(best) == list(everything[:2])


# Prerequisite closure ----------------------------------------------------

def chunk(id_, concept, needs=None, needed_for=None, subject='S'):
    return {'id': id_, 'subject': subject, 'concept': concept,
            'has_prerequisite': needs, 'prerequisite_for': needed_for}


GRAPH = [
    chunk('hash', 'Hashing', needed_for=['Merkle Trees', 'Blocks']),
    chunk('keys', 'Keys'),
    chunk('sig', 'Signatures', needs=['Hashing', 'Keys']),
    chunk('merkle', 'Merkle Trees'),
    chunk('blocks', 'Blocks', needs='Merkle Trees'),
    chunk('mining', 'Mining', needs=['Blocks']),
    # Same name in another subject: never a link across subjects.
    chunk('other', 'Keys', needs='Hashing', subject='T'),
]


def test_the_closure_follows_both_directions_transitively():
    closure = PrerequisiteGraph(GRAPH).closure(['mining'])
    assert closure == {'blocks': ['mining'], 'merkle': ['mining'],
                       'hash': ['mining']}


def test_the_closure_names_every_chosen_chunk_that_needs_a_foundation():
    closure = PrerequisiteGraph(GRAPH).closure(['sig', 'blocks'])
    assert closure == {'hash': ['sig', 'blocks'], 'keys': ['sig'],
                       'merkle': ['blocks']}


def test_chosen_chunks_are_never_their_own_foundations():
    closure = PrerequisiteGraph(GRAPH).closure(['blocks', 'merkle'])
    assert closure == {'hash': ['blocks', 'merkle']}


def test_names_match_within_the_subject_only_and_exactly():
    graph = PrerequisiteGraph(GRAPH + [
        chunk('case', 'Case', needs='hashing'),
        chunk('far', 'Far', needs='Hashing', subject='T')])
    assert graph.closure(['case']) == {}
    assert graph.closure(['far']) == {}
    assert graph.closure(['other']) == {}


def test_a_cycle_in_the_metadata_ends_the_walk():
    graph = PrerequisiteGraph([chunk('a', 'A', needs='B'),
                               chunk('b', 'B', needs='C'),
                               chunk('c', 'C', needs='A')])
    assert graph.closure(['a']) == {'b': ['a'], 'c': ['a']}


def test_over_the_cap_the_most_needed_then_the_nearest_stay():
    closure = {'x': ['a', 'b', 'c'], 'y': ['a'], 'z': ['b'], 'w': ['a', 'b']}
    cosines = {'y': 0.1, 'z': 0.5, 'w': 0.0}
    assert choose_foundations(closure, cosines, 3) == ['x', 'w', 'z']
    assert choose_foundations(closure, cosines, 0) == []


# Fusion -------------------------------------------------------------------

def test_the_shipped_calibration_weighs_words_and_subjects():
    calibration = calibration_for(MINILM)
    assert calibration.lexical_weight > 0 and calibration.subject_weight > 0


def test_a_strong_word_match_lifts_a_chunk_over_a_closer_meaning():
    cosines, lexical = [0.50, 0.45], [0.0, 0.9]
    scores = relevances(cosines, MINILM, lexical)
    assert scores[1] > scores[0]
    # Without words, the cosine alone decides, as before.
    assert relevances(cosines, MINILM)[0] > relevances(cosines, MINILM)[1]


def test_the_subject_most_of_the_best_candidates_share_ranks_higher():
    scores = np.array([0.60, 0.58, 0.57, 0.59, 0.10, 0.10, 0.10, 0.10])
    subjects = ['re', 're', 're', 'glob', 'glob', 'glob', 'glob', 'glob']
    shares = subject_shares(scores, subjects, top=4)
    # 're' holds most of the best four and 3/8 of all: it gains; 'glob'
    # holds less of the best than of all: it gains nothing.
    assert shares[0] == shares[1] == shares[2] > 0
    assert list(shares[3:]) == [0.0] * 5
    ranks = ranking_scores(scores, None, subjects, MINILM)
    assert ranks[2] > ranks[3]


def test_a_library_of_one_subject_gains_nothing_from_it():
    scores = np.array([0.31, 0.30, 0.29, 0.12])
    shares = subject_shares(scores, ['only'] * 4, top=2)
    assert list(shares) == [0.0] * 4
    assert list(ranking_scores(scores, None, ['only'] * 4, MINILM)) == \
        pytest.approx(list(scores))


def test_the_subject_term_never_lifts_a_chunk_over_the_floor():
    # The relevance reads the cosine and the words only.
    cosines, lexical = [0.30, 0.29, 0.28], [0.0, 0.0, 0.0]
    assert list(relevances(cosines, MINILM, lexical)) == \
        pytest.approx(list(relevances(cosines, MINILM)))


# The local stores, on the starter corpus -----------------------------------

pytestmark = pytest.mark.learning_env(starter_chunks=True)


def test_the_store_finds_a_blockchain_chunks_foundations(env):
    store = LearningChunkStore(env).store
    # Blocks and Chaining (bc_07) needs hashes (bc_01) and distributed
    # ledgers (bc_03), which name it in their prerequisite_for.
    closure = store.prerequisite_closure(['bc_07'])
    assert {'bc_01', 'bc_03'} <= set(closure)
    assert all(needed_by == ['bc_07'] for needed_by in closure.values())
    assert 'bc_07' not in closure


def test_the_store_searches_words_and_measures_any_chunks_cosine(env):
    store = LearningChunkStore(env).store
    found = store.lexical_search('Merkle root', 5)
    assert found and found[0][0] == 'bc_06'
    assert all(0 < score <= 1 for _id, score in found)
    unit = np.ones(384, dtype=np.float32) / np.sqrt(384)
    cosines = store.similarities(unit, ['bc_06', 'bc_01', 'missing'])
    assert set(cosines) == {'bc_06', 'bc_01'}
    assert all(-1 <= c <= 1 for c in cosines.values())
    by_search = dict((c['id'], cos) for c, cos in store.search(unit, 200))
    assert cosines['bc_06'] == pytest.approx(by_search['bc_06'], abs=1e-5)


# The pipeline on disagreeing retrievals --------------------------------

class DisagreeingStore(object):
    """Dense search finds `dense`; the words find `words` (only there)."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    def search(self, vector, limit):
        return [(c, cos) for c, cos in self.real.search(vector, limit)
                if c['id'] != 'bc_06']

    def lexical_search(self, text, limit):
        return [('bc_06', 1.0)]


def test_a_chunk_only_the_words_find_is_ranked_with_its_own_cosine(
        env, monkeypatch):
    pipeline = SearchPipeline(env)
    real = LearningChunkStore(env).store
    disagreeing = DisagreeingStore(real)
    monkeypatch.setattr(LearningChunkStore, 'store',
                        property(lambda self: disagreeing))
    ranking = pipeline.rank('how does a Merkle tree commit to its '
                            'transactions?')
    hits = {hit.chunk['id']: hit for hit in ranking.hits}
    merkle = hits['bc_06']
    assert merkle.lexical == 1.0
    assert merkle.cosine == pytest.approx(
        real.similarities(ranking.vector, ['bc_06'])['bc_06'])
    assert ranking.hits[0].chunk['id'] == 'bc_06'
    assert all(hit.lexical == 0.0 for hit in ranking.hits[1:])


def test_both_stores_leave_a_learners_request_words_out():
    from tracl.search.neo4j_store import lexical_words
    query = 'I want to understand Schrödinger equations, please'
    assert lexical_words(query) == ['schrödinger', 'equations']
    assert query_terms('I want to understand hash functions, please') == \
        ['hash', 'funct']


def test_a_chunk_stored_since_the_last_search_is_found_by_its_words(env):
    store = LearningChunkStore(env).store
    assert store.lexical_search('zyxglorp', 5) == []
    new = {'id': 'zz_01', 'subject': 'Blockchain Fundamentals',
           'concept': 'Zyxglorp Trees', 'has_prerequisite': 'Merkle Trees',
           'prerequisite_for': None, 'difficulty_level': 2, 'source': 'test',
           'content': ' '.join(['Zyxglorp trees extend Merkle trees with '
                                'an extra layer of hashing.'] * 3)}
    vector = np.ones((1, 384), dtype=np.float32) / np.sqrt(384)
    store.upsert([new], vector, MINILM)
    assert [i for i, _s in store.lexical_search('zyxglorp', 5)] == ['zz_01']
    assert 'bc_06' in store.prerequisite_closure(['zz_01'])
