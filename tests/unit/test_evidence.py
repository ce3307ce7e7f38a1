"""What a grade rests on (tracl/model/evidence.py): key points with the
sentences of the concept's text they come from, errors, confidence, and
their stored form, which must read back whatever a row holds."""

import json

import pytest

from tracl.llm import Confidence, Evaluation
from tracl.model.evidence import (NO_EVIDENCE, Evidence, EvidenceError,
                                  EvidencePoint, evidence_api,
                                  evidence_from_row, evidence_json,
                                  evidence_of, source_text)
from tracl.model.rubrics import COVERED, MISSING, PARTIAL, Misconception, \
    PointGrade

CONTENT = ("A ledger records transactions. Copies are kept by every node. "
           "Nodes must agree on one history. Agreement is the hard part.")


@pytest.mark.parametrize('source, text', [
    ('1', 'A ledger records transactions.'),
    ('2, 4', 'Copies are kept by every node. Agreement is the hard part.'),
    ('3,3', 'Nodes must agree on one history.'),
    ('', ''),
    ('9', ''),
    ('0', ''),
    ('two', ''),
    (None, ''),
])
def test_source_names_sentences_counted_from_one(source, text):
    assert source_text(source, CONTENT) == text


def graded(**extra):
    values = dict(score=0.5, feedback='F.', grader='offline',
                  grader_version='3',
                  evidence=(PointGrade('Ledgers record.', COVERED, '1'),
                            PointGrade('Nodes agree.', MISSING, '3, 4')),
                  errors=(Misconception('It is central.',
                                        'Every node keeps a copy.'),),
                  confidence=Confidence('low', 'A close call.'))
    values.update(extra)
    return Evaluation(**values)


def test_evidence_of_a_grade_resolves_its_sources():
    evidence = evidence_of(graded(), CONTENT)
    assert evidence.points == (
        EvidencePoint('Ledgers record.', COVERED,
                      'A ledger records transactions.'),
        EvidencePoint('Nodes agree.', MISSING,
                      'Nodes must agree on one history. Agreement is the '
                      'hard part.'))
    assert evidence.errors == (EvidenceError('It is central.',
                                             'Every node keeps a copy.'),)
    assert (evidence.confidence, evidence.confidence_reason) == \
        ('low', 'A close call.')


def test_a_grade_that_says_nothing_has_no_evidence():
    evidence = evidence_of(graded(evidence=(), errors=(), confidence=None),
                           CONTENT)
    assert evidence == NO_EVIDENCE
    assert evidence_json(evidence) is None
    assert evidence_api(evidence) == {'evidence': [], 'errors': [],
                                      'confidence': None}


def test_evidence_reads_back_as_it_was_stored():
    evidence = evidence_of(graded(), CONTENT)
    stored = evidence_json(evidence)
    assert evidence_from_row(stored, 'low', 'A close call.') == evidence


def test_the_api_shape():
    shape = evidence_api(evidence_of(graded(), CONTENT))
    assert shape['evidence'][1] == {
        'point': 'Nodes agree.', 'status': MISSING,
        'source': 'Nodes must agree on one history. Agreement is the hard '
                  'part.'}
    assert shape['errors'] == [{'claim': 'It is central.',
                                'correction': 'Every node keeps a copy.'}]
    assert shape['confidence'] == {'level': 'low', 'reason': 'A close call.'}


HOSTILE = '<script>alert(1)</script> {{ 7*7 }} \u202e'


def test_hostile_text_is_kept_as_text():
    evidence = Evidence((EvidencePoint(HOSTILE, PARTIAL, HOSTILE),),
                        (EvidenceError(HOSTILE, HOSTILE),), 'high', HOSTILE)
    again = evidence_from_row(evidence_json(evidence), 'high', HOSTILE)
    assert again == evidence
    assert evidence_api(again)['evidence'][0]['point'] == HOSTILE


@pytest.mark.parametrize('text', [
    None, '', 'not json', '[1, 2]', '{"points": "x"}',
    json.dumps({'points': [{'point': 'p', 'status': 'bogus'}, 7],
                'errors': [3]}),
])
def test_a_row_that_cannot_be_read_gives_no_evidence(text):
    found = evidence_from_row(text, None, None)
    assert found.points == () and found.errors == ()
    assert found.confidence is None


def test_a_reason_without_a_level_is_dropped():
    assert evidence_from_row(None, None, 'orphan').confidence_reason is None
