"""What a grade rests on, as it is stored with an attempt and shown: each
key point of the rubric with its status and the sentences of the concept's
text it comes from (so the learner knows what to reread), the
misconceptions found with their corrections, and how sure the grader was.

Every text here is hostile: key points and sources come from a chunk and
an LLM, error claims may quote the learner. They are stored and returned
as plain text; the pages escape them.
"""

import json
from collections import namedtuple

from tracl.model import rubrics
from tracl.model.rubrics import COVERED, MISSING, PARTIAL

#: A key point as a grade judged it: `source` is the text of the
#: concept's sentences it rests on ('' when unknown).
EvidencePoint = namedtuple('EvidencePoint', ['point', 'status', 'source'])

#: A false claim found in an answer, and what is true instead.
EvidenceError = namedtuple('EvidenceError', ['claim', 'correction'])

#: What a grade rests on: `points` (`EvidencePoint`s, in the rubric's
#: order), `errors` (`EvidenceError`s), `confidence` ('high', 'medium',
#: 'low' or None) and `confidence_reason`.
Evidence = namedtuple('Evidence', ['points', 'errors', 'confidence',
                                   'confidence_reason'])

#: A grade that says nothing of what it rests on (attempts graded before
#: evidence was kept, graders that do not say).
NO_EVIDENCE = Evidence((), (), None, None)

_STATUSES = (COVERED, PARTIAL, MISSING)


def source_text(source, content):
    """The sentences of `content` that `source` names ("2, 4": numbers
    counted from 1, as key points name them), joined; '' when it names
    none that `content` has."""
    numbered = rubrics.sentences(content)
    found = []
    for part in str(source or '').split(','):
        part = part.strip()
        if part.isdigit() and 1 <= int(part) <= len(numbered):
            sentence = numbered[int(part) - 1]
            if sentence not in found:
                found.append(sentence)
    return ' '.join(found)


def evidence_of(evaluation, content):
    """The `Evidence` of `evaluation` (a `tracl.llm.Evaluation`) graded
    against a question about the concept text `content`."""
    confidence = evaluation.confidence
    return Evidence(
        tuple(EvidencePoint(g.point, g.status, source_text(g.source, content))
              for g in evaluation.evidence or ()),
        tuple(EvidenceError(e.claim, e.correction)
              for e in evaluation.errors or ()),
        confidence.level if confidence else None,
        confidence.reason if confidence else None)


def evidence_json(evidence):
    """The text the `attempts.evidence` column holds (None for none)."""
    if not evidence.points and not evidence.errors:
        return None
    return json.dumps({
        'points': [{'point': p.point, 'status': p.status,
                    'source': p.source} for p in evidence.points],
        'errors': [{'claim': e.claim, 'correction': e.correction}
                   for e in evidence.errors]}, sort_keys=True)


def evidence_from_row(text, confidence, reason):
    """The `Evidence` of an attempt row's `evidence`, `confidence` and
    `confidence_reason` columns; what cannot be read is left out."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    points = tuple(
        EvidencePoint(str(p.get('point') or ''), p.get('status'),
                      str(p.get('source') or ''))
        for p in data.get('points') or () if isinstance(p, dict) and
        p.get('status') in _STATUSES)
    errors = tuple(
        EvidenceError(str(e.get('claim') or ''),
                      str(e.get('correction') or ''))
        for e in data.get('errors') or () if isinstance(e, dict))
    return Evidence(points, errors, confidence or None,
                    reason if confidence else None)


def evidence_api(evidence):
    """`evidence` in the API's shape: `evidence` (a list of `point`,
    `status`, `source`), `errors` (a list of `claim`, `correction`) and
    `confidence` (`level` and `reason`, or None)."""
    return {
        'evidence': [{'point': p.point, 'status': p.status,
                      'source': p.source} for p in evidence.points],
        'errors': [{'claim': e.claim, 'correction': e.correction}
                   for e in evidence.errors],
        'confidence': {'level': evidence.confidence,
                       'reason': evidence.confidence_reason or ''}
        if evidence.confidence else None}
