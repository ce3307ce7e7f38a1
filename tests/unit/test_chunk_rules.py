"""A chunk's rules in one module (`tracl.model.chunks`): the validator that
collects problems for an import report or raises for a store, the API's
JSON form and its inverse, and the names of a chunk's prerequisites."""

import numpy as np
import pytest

from tracl.corpus import validate_chunks
from tracl.model.chunks import (FIELDS, Chunk, ChunkError, check_chunk,
                                check_chunks, checked_prerequisite_names,
                                chunk_from_json, chunk_json, chunk_problems,
                                missing_fields, prerequisite_names,
                                read_chunk)
from tracl.search.local_store import LocalChunkStore
from tracl.search.neo4j_store import load_chunks
from tracl.web.paths_api import CHUNK_SCHEMA

GOOD = {
    'id': 'bc_01', 'subject': 'Blockchain', 'concept': 'Hashing',
    'content': 'A hash function maps data of any size to a fixed size.',
    'has_prerequisite': None, 'prerequisite_for': ['Merkle Trees'],
    'difficulty_level': 2, 'source': 'notes',
}

#: A chunk with three things wrong at once.
BAD = dict(GOOD, content='', difficulty_level=9, has_prerequisite=['A', 7])


def unit_rows(count, dimension=8):
    rows = np.random.default_rng(1).normal(size=(count, dimension))
    return (rows / np.linalg.norm(rows, axis=1)[:, None]).astype(np.float32)


# The validator -------------------------------------------------------------

def test_a_valid_chunk_becomes_a_chunk_with_names_stripped_and_defaults():
    raw = dict(GOOD, subject=' Blockchain ', prerequisite_for=['A', ' A'])
    del raw['source'], raw['difficulty_level']
    chunk = check_chunk(raw, 1)
    assert isinstance(chunk, Chunk)
    assert chunk.subject == 'Blockchain'
    assert chunk.prerequisite_for == ['A']
    assert (chunk.difficulty_level, chunk.source) == (3, '')
    assert list(chunk.as_dict()) == list(FIELDS)


def test_the_collecting_validator_lists_every_problem_of_a_chunk():
    fields, problems, warnings = chunk_problems(dict(BAD, extra=1), 'item 1')
    assert len(problems) == 3
    assert any("'content' is empty" in p for p in problems)
    assert any('difficulty_level' in p for p in problems)
    assert any("'has_prerequisite'" in p for p in problems)
    assert warnings == ["chunk bc_01: 'extra' is not a chunk field and is "
                        "ignored"]
    assert 'content' not in fields


def test_the_raising_validator_names_the_chunk_and_every_problem():
    with pytest.raises(ChunkError) as raised:
        check_chunk(BAD, 4)
    message = str(raised.value)
    assert message.startswith('Chunk bc_01: ')
    assert message.count(';') == 2
    assert isinstance(raised.value, ValueError)
    with pytest.raises(ChunkError, match='^Chunk 4: '):
        check_chunk(dict(BAD, id=''), 4)


def test_the_import_report_and_the_store_refuse_a_chunk_for_the_same_reasons():
    report = validate_chunks([BAD], min_words=1, max_words=500)
    _fields, problems, _warnings = chunk_problems(BAD, 'item 1')
    assert report.rejected[0].message == 'chunk bc_01: ' + '; '.join(problems)
    with pytest.raises(ChunkError) as raised:
        check_chunk(BAD, 1)
    assert str(raised.value) == 'Chunk bc_01: ' + '; '.join(problems)


def test_a_batch_refuses_a_repeated_id_or_concept():
    with pytest.raises(ChunkError, match='appears twice'):
        check_chunks([GOOD, GOOD])
    with pytest.raises(ChunkError, match='both name concept'):
        check_chunks([GOOD, dict(GOOD, id='bc_02')])
    assert [c.id for c in check_chunks([GOOD, dict(GOOD, id='bc_02',
                                                   concept='Other')])] == [
        'bc_01', 'bc_02']


def test_missing_fields_names_the_required_fields_a_reader_lacks():
    assert missing_fields(GOOD) == []
    assert missing_fields({'id': 'x', 'subject': ' ', 'concept': 3}) == [
        'subject', 'concept', 'content']


# Both stores ----------------------------------------------------------------

def test_both_stores_refuse_the_same_bad_chunk_with_the_same_sentence(
        make_env):
    store = LocalChunkStore(make_env())
    with pytest.raises(ChunkError) as local:
        store.upsert([GOOD, BAD], unit_rows(2), 'model')
    # Neo4j is never contacted: the chunks are checked first.
    with pytest.raises(ChunkError) as neo4j:
        load_chunks('neo4j+s://example.test', 'loader', 'secret',
                    [GOOD, BAD], unit_rows(2), 'model', 8)
    assert str(local.value) == str(neo4j.value)
    assert str(local.value).startswith('Chunk bc_01: ')
    assert store.stats()['chunks'] == 0


def test_the_local_store_is_always_available(make_env):
    assert LocalChunkStore(make_env()).check_available() is None


# Reading and the JSON form ----------------------------------------------------

def test_a_hand_written_record_is_read_as_well_as_it_can_be():
    record = {'id': 'n1', 'subject': 'S', 'concept': 'C', 'content': 'text',
              'has_prerequisite': ['A', 7, ''], 'prerequisite_for': 12,
              'difficulty_level': '9'}
    assert read_chunk(record) == {
        'id': 'n1', 'subject': 'S', 'concept': 'C', 'content': 'text',
        'has_prerequisite': ['A'], 'prerequisite_for': None,
        'difficulty_level': 5, 'source': ''}
    assert read_chunk(dict(record, difficulty_level='hard'))[
        'difficulty_level'] == 3


def test_the_json_form_has_the_api_fields_and_reads_back_to_the_chunk():
    chunk = check_chunk(GOOD, 1).as_dict()
    found = chunk_json(chunk, 0.81234567, 0.912345)
    assert set(found) == set(CHUNK_SCHEMA['required'])
    assert (found['chunk_id'], found['cosine'], found['relevance']) == (
        'bc_01', 0.8123, 0.9123)
    assert chunk_from_json(found) == chunk


# Prerequisite names -------------------------------------------------------

@pytest.mark.parametrize('value, names', [
    (None, []), ('', []), ('  Hashing ', ['Hashing']),
    (['A', ' B '], ['A', 'B']),
    # Bad values, as a reader gets them: the usable names only.
    (3, []), ({'name': 'A'}, []), (['A', 7], ['A']), (['A', ''], ['A']),
])
def test_readers_get_a_clean_list_of_names_whatever_is_stored(value, names):
    assert prerequisite_names(value) == names


@pytest.mark.parametrize('value', [3, {'name': 'A'}, ['A', 7], ['A', '']])
def test_a_value_about_to_be_stored_is_refused_saying_what_is_wrong(value):
    with pytest.raises(ChunkError, match='prerequisites|concept names'):
        checked_prerequisite_names(value)
