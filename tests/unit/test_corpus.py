"""The corpus validator (`tracl.corpus`), the starter corpus it ships with,
and the labelled queries the search is measured on."""

import json
from collections import Counter
from pathlib import Path

import pytest

from tracl.corpus import (SPEC_MAX_WORDS, STARTER_SOURCE_PREFIX, CorpusError,
                          load_starter_corpus, longest_chain, read_jsonl,
                          starter_corpus_paths, subject_counts,
                          validate_chunks, validate_jsonl)
from tracl.model.chunks import (MAX_NAME_LENGTH, ChunkError,
                                checked_prerequisite_names,
                                prerequisite_names)

QUERY_DIR = Path(__file__).resolve().parents[1] / 'data' / 'queries'

REQUIRED_SUBJECTS = ('Machine Learning', 'Blockchain Fundamentals',
                     'Quantum Computing')


@pytest.fixture(scope='module')
def starter():
    return validate_chunks(load_starter_corpus())


@pytest.fixture(scope='module')
def queries():
    return [query for path in sorted(QUERY_DIR.glob('*.jsonl'))
            for _, query in read_jsonl(path)]


def chunk(chunk_id, concept, needs=None, subject='Blockchain Fundamentals',
          words=150, **fields):
    """A chunk that is valid on its own."""
    result = {'id': chunk_id, 'subject': subject, 'concept': concept,
              'content': ' '.join(['ledger'] * words),
              'has_prerequisite': needs, 'prerequisite_for': None,
              'difficulty_level': 2, 'source': 'test'}
    result.update(fields)
    return result


def by_subject(chunks):
    subjects = {}
    for item in chunks:
        subjects.setdefault(item['subject'], []).append(item)
    return subjects


def rejection(report, where):
    """The one rejection message of `where`."""
    messages = [p.message for p in report.rejected if p.where == where]
    assert len(messages) == 1, report.rejected
    return messages[0]


# The starter corpus ---------------------------------------------------------

def test_starter_corpus_ships_one_file_per_subject_in_sorted_order():
    names = [path.name for path in starter_corpus_paths()]
    assert names == sorted(names)
    assert len(names) >= 6
    assert all(name.endswith('.jsonl') for name in names)


def test_starter_corpus_validates_without_rejections_or_warnings(starter):
    assert starter.rejected == []
    assert starter.warnings == []
    assert len(starter.valid) == len(load_starter_corpus())


def test_starter_corpus_has_at_least_150_chunks_in_6_subjects(starter):
    counts = subject_counts(starter.valid)
    assert sum(counts.values()) >= 150
    assert len(counts) >= 6
    for subject in REQUIRED_SUBJECTS:
        assert subject in counts


def test_every_starter_subject_has_at_least_20_concepts(starter):
    for subject, chunks in by_subject(starter.valid).items():
        assert len({c['concept'] for c in chunks}) >= 20, subject


def test_every_starter_subject_has_a_chain_of_at_least_5_concepts(starter):
    chains = longest_chain(starter.valid)
    assert set(chains) == set(subject_counts(starter.valid))
    for subject, chain in chains.items():
        assert len(chain) >= 5, (subject, chain)


def test_every_starter_subject_has_a_concept_with_two_prerequisites(starter):
    for subject, chunks in by_subject(starter.valid).items():
        merges = [c['concept'] for c in chunks
                  if len(prerequisite_names(c['has_prerequisite'])) >= 2]
        assert merges, subject


def test_starter_prerequisite_for_is_exactly_the_inverse_of_has_prerequisite(
        starter):
    for subject, chunks in by_subject(starter.valid).items():
        needs = {(p, c['concept']) for c in chunks
                 for p in prerequisite_names(c['has_prerequisite'])}
        unlocks = {(c['concept'], d) for c in chunks
                   for d in prerequisite_names(c['prerequisite_for'])}
        assert needs == unlocks, subject


def test_starter_sources_name_the_starter_corpus(starter):
    for item in starter.valid:
        assert item['source'].startswith(STARTER_SOURCE_PREFIX), item['id']


def test_starter_chunks_are_within_the_spec_word_bound(starter):
    report = validate_chunks(load_starter_corpus(), max_words=SPEC_MAX_WORDS)
    assert report.ok


# Reading and normalising ----------------------------------------------------

def test_prerequisite_names_accepts_null_a_name_or_a_list():
    assert prerequisite_names(None) == []
    assert prerequisite_names('Merkle Trees') == ['Merkle Trees']
    assert prerequisite_names(['A', ' B ']) == ['A', 'B']


@pytest.mark.parametrize('value', [3, {'name': 'A'}, ['A', 7], ['A', '']])
def test_prerequisite_names_refuses_anything_else(value):
    with pytest.raises(ChunkError):
        checked_prerequisite_names(value)


def test_read_jsonl_yields_line_numbers_and_skips_blank_lines():
    lines = ['{"id": "a"}\n', '\n', '{"id": "b"}\n']
    assert list(read_jsonl(lines)) == [(1, {'id': 'a'}), (3, {'id': 'b'})]


def test_read_jsonl_names_the_line_that_is_not_a_json_object(tmp_path):
    path = tmp_path / 'mine.jsonl'
    path.write_text('{"id": "a"}\n{"id": "b",\n', encoding='utf-8')
    with pytest.raises(CorpusError, match='line 2 of mine.jsonl'):
        list(read_jsonl(path))
    with pytest.raises(CorpusError, match='line 1 is a JSON array'):
        list(read_jsonl(['[1, 2]']))


def test_missing_optional_fields_get_their_defaults():
    bare = {'id': 'a', 'subject': ' S ', 'concept': 'A',
            'content': 'word ' * 120}
    [item] = validate_chunks([bare]).valid
    assert item['subject'] == 'S'
    assert item['has_prerequisite'] is None
    assert item['prerequisite_for'] is None
    assert item['difficulty_level'] == 3
    assert item['source'] == ''


def test_word_bounds_are_parameters_for_an_admins_corpus():
    long = chunk('bc_01', 'Long', words=450)
    assert not validate_chunks([long]).ok
    assert validate_chunks([long], max_words=SPEC_MAX_WORDS).ok
    with pytest.raises(ValueError):
        validate_chunks([long], min_words=300, max_words=200)


# Rejections -----------------------------------------------------------------

def test_chunk_without_content_is_rejected_by_name():
    bad = chunk('bc_01', 'Hashes')
    del bad['content']
    report = validate_chunks([bad])
    assert report.valid == []
    assert rejection(report, 'bc_01').startswith('chunk bc_01:')
    assert "'content' is missing" in rejection(report, 'bc_01')


def test_chunk_without_id_is_rejected_by_its_position():
    bad = chunk(None, 'Hashes')
    report = validate_chunks([chunk('bc_01', 'Blocks'), bad])
    assert "item 2: the required field 'id' is missing" in rejection(
        report, 'item 2')


def test_bad_json_line_is_rejected_and_the_rest_kept():
    lines = [json.dumps(chunk('bc_01', 'Hashes')), '{"id": "bc_02", ',
             json.dumps(chunk('bc_03', 'Blocks', 'Hashes'))]
    report = validate_jsonl(lines)
    assert [c['id'] for c in report.valid] == ['bc_01', 'bc_03']
    assert 'line 2 is not valid JSON' in rejection(report, 'line 2')


def test_duplicate_id_rejects_the_later_chunk():
    report = validate_chunks([chunk('bc_01', 'Hashes'),
                              chunk('bc_01', 'Blocks')])
    assert [c['concept'] for c in report.valid] == ['Hashes']
    message = rejection(report, 'bc_01')
    assert message.startswith('chunk bc_01 (item 2):')
    assert 'already used' in message


def test_duplicate_concept_in_a_subject_rejects_the_later_chunk():
    report = validate_chunks([chunk('bc_01', 'Hashes'),
                              chunk('bc_02', 'Hashes'),
                              chunk('ml_01', 'Hashes', subject='ML')])
    assert [c['id'] for c in report.valid] == ['bc_01', 'ml_01']
    assert "concept 'Hashes' already exists" in rejection(report, 'bc_02')


def test_unknown_prerequisite_rejects_the_chunk_and_suggests_a_name():
    report = validate_chunks([chunk('bc_01', 'Merkle Trees'),
                              chunk('bc_07', 'Blocks', ['Merkle Tree'])])
    assert [c['id'] for c in report.valid] == ['bc_01']
    assert rejection(report, 'bc_07') == (
        "chunk bc_07: prerequisite 'Merkle Tree' is not a concept of subject "
        "'Blockchain Fundamentals' (did you mean 'Merkle Trees'?)")


def test_prerequisite_from_another_subject_is_unknown():
    report = validate_chunks([chunk('la_01', 'Vectors', subject='LA'),
                              chunk('ml_01', 'Regression', 'Vectors',
                                    subject='ML')])
    assert "it is a concept of 'LA'" in rejection(report, 'ml_01')


def test_chunk_needing_a_rejected_chunk_is_rejected_too():
    report = validate_chunks([chunk('bc_01', 'Hashes', words=10),
                              chunk('bc_02', 'Blocks', 'Hashes'),
                              chunk('bc_03', 'Chains', 'Blocks'),
                              chunk('bc_04', 'Wallets')])
    assert [c['id'] for c in report.valid] == ['bc_04']
    assert 'is chunk bc_01, which was rejected' in rejection(report, 'bc_02')
    assert 'is chunk bc_02, which was rejected' in rejection(report, 'bc_03')


def test_three_cycle_rejects_its_members_and_names_the_cycle():
    report = validate_chunks([chunk('bc_01', 'Hashes'),
                              chunk('bc_02', 'A', ['Hashes', 'C']),
                              chunk('bc_03', 'B', 'A'),
                              chunk('bc_04', 'C', 'B'),
                              chunk('bc_05', 'D', 'C')])
    assert [c['id'] for c in report.valid] == ['bc_01']
    assert rejection(report, 'bc_02') == (
        "chunk bc_02: concept 'A' is on a prerequisite cycle in subject "
        "'Blockchain Fundamentals': 'A' needs 'C' needs 'B' needs 'A'; "
        "remove one of these links")
    assert 'on a prerequisite cycle' in rejection(report, 'bc_03')
    assert 'on a prerequisite cycle' in rejection(report, 'bc_04')
    assert 'is chunk bc_04, which was rejected' in rejection(report, 'bc_05')


def test_self_loop_is_rejected():
    report = validate_chunks([chunk('bc_01', 'Hashes', ['Hashes'])])
    assert rejection(report, 'bc_01') == (
        "chunk bc_01: concept 'Hashes' lists itself as a prerequisite")


@pytest.mark.parametrize('words, expected', [
    (99, 'content has 99 words; chunks need 100 to 300'),
    (301, 'content has 301 words; chunks need 100 to 300'),
])
def test_content_outside_the_word_bounds_is_rejected(words, expected):
    report = validate_chunks([chunk('bc_01', 'Hashes', words=words)])
    assert rejection(report, 'bc_01') == 'chunk bc_01: ' + expected


def test_content_on_the_word_bounds_is_accepted():
    assert validate_chunks([chunk('bc_01', 'Short', words=100),
                            chunk('bc_02', 'Long', words=300)]).ok


@pytest.mark.parametrize('difficulty', [0, 6, '3', 2.5, True])
def test_difficulty_outside_1_to_5_or_not_an_integer_is_rejected(difficulty):
    report = validate_chunks([chunk('bc_01', 'Hashes',
                                    difficulty_level=difficulty)])
    assert rejection(report, 'bc_01').startswith(
        'chunk bc_01: difficulty_level must be a whole number from 1 to 5')


def test_concept_longer_than_its_column_is_rejected():
    report = validate_chunks([chunk('bc_01', 'x' * (MAX_NAME_LENGTH + 1))])
    assert rejection(report, 'bc_01') == (
        "chunk bc_01: 'concept' has 201 characters; at most 200 fit")


def test_wrong_types_are_rejected_with_their_json_type():
    report = validate_chunks([chunk('bc_01', 'Hashes', content=42,
                                    has_prerequisite=7)])
    message = rejection(report, 'bc_01')
    assert "'content' must be a string, not a number" in message
    assert "'has_prerequisite'" in message


def test_one_sided_prerequisite_for_is_a_warning_not_a_rejection():
    report = validate_chunks([
        chunk('bc_01', 'Hashes', prerequisite_for=['Blocks', 'Mining']),
        chunk('bc_02', 'Blocks'),
    ])
    assert report.ok and len(report.valid) == 2
    messages = [w.message for w in report.warnings]
    assert messages == [
        "chunk bc_01: lists 'Blocks' in prerequisite_for, but chunk bc_02 "
        "does not list 'Hashes' in has_prerequisite; links come from "
        "has_prerequisite only",
        "chunk bc_01: lists 'Mining' in prerequisite_for, which is not a "
        "concept of subject 'Blockchain Fundamentals'"]


# Figures --------------------------------------------------------------------

def test_longest_chain_follows_prerequisites_from_the_foundation():
    chunks = validate_chunks([chunk('bc_01', 'A'), chunk('bc_02', 'B', 'A'),
                              chunk('bc_03', 'C', ['A', 'B']),
                              chunk('bc_04', 'D', 'A'),
                              chunk('ml_01', 'X', subject='ML')]).valid
    assert longest_chain(chunks) == {
        'Blockchain Fundamentals': ['A', 'B', 'C'], 'ML': ['X']}
    assert subject_counts(chunks) == {'Blockchain Fundamentals': 4, 'ML': 1}


def test_longest_chain_refuses_a_cycle():
    with pytest.raises(CorpusError, match='cycle'):
        longest_chain([chunk('bc_01', 'A', 'B'), chunk('bc_02', 'B', 'A')])


# The labelled queries -------------------------------------------------------

def test_there_are_at_least_60_labelled_queries_with_unique_ids(queries):
    assert len(queries) >= 60
    assert len({q['id'] for q in queries}) == len(queries)


def test_every_relevant_id_is_a_starter_chunk(queries, starter):
    ids = {c['id'] for c in starter.valid}
    for query in queries:
        assert set(query['relevant']) <= ids, query['id']


def test_queries_have_both_splits_and_known_kinds(queries):
    assert {q['split'] for q in queries} == {'train', 'test'}
    assert {q['kind'] for q in queries} == {'broad', 'narrow', 'none'}
    for query in queries:
        assert bool(query['relevant']) == (query['kind'] != 'none'), query


def test_off_topic_queries_expect_nothing(queries):
    off_topic = [q for q in queries if q['kind'] == 'none']
    assert len(off_topic) == 8
    assert Counter(q['split'] for q in off_topic) == {'train': 5, 'test': 3}


def test_every_subject_has_test_queries(queries, starter):
    subject_of = {c['id']: c['subject'] for c in starter.valid}
    tested = {subject_of[chunk_id] for q in queries if q['split'] == 'test'
              for chunk_id in q['relevant']}
    assert tested == set(subject_counts(starter.valid))
