"""Grading an answer against a rubric: which key points it covers, which
misconceptions it states and which key points it contradicts, and the
feedback that says so in whole sentences.

A key point is covered by meaning, not by its words: the answer's
sentences and clauses are embedded once, each key point is embedded once
per question, and a key point is covered when one of the answer's pieces
comes close to it in meaning (so "put them nose to tail" covers "adding
vectors head to tail"). Shared words only help a piece that is already
near in meaning, so naming the terms is not enough.

Without a rubric (questions written before rubrics, SciEntsBank) the key
points are the expected answer's sentences, as the offline question writer
derives them from a chunk.

A stated misconception or a contradicted key point is an error: the grade
stays below mastery whatever else is right, and the feedback gives the
correction. Learner text quoted in feedback is short and plain.
"""

import re
from collections import namedtuple

import numpy as np

from tracl.llm.contradiction import contradiction
from tracl.llm.text import clauses, content_stems, words
from tracl.model import rubrics
from tracl.model.rubrics import (COVERED, MISSING, PARTIAL, Misconception,
                                 PointGrade)

#: Cosine between a key point and the closest piece of the answer at which
#: the point counts as covered, and as partly covered.
COVERED_COSINE = 0.68
PARTIAL_COSINE = 0.5
#: A piece covers only the key points it is within this cosine of its
#: nearest one; for the others it counts as partial at most.
SIBLING_MARGIN = 0.06
#: A piece this close in meaning whose words also carry this share of the
#: key point's own words covers the point too.
LEXICAL_COSINE = 0.62
LEXICAL_SHARE = 0.6
#: How near in meaning a piece of the answer must be to a statement before
#: the contradiction rules compare them: far apart, the two talk about
#: different things.
SAME_TOPIC_COSINE = 0.6
#: The same, for a key point: a contradicted key point takes a piece that
#: is nearer still, since key points are many and wrong flags cost a
#: right answer its mastery.
CONTRADICTS_POINT_COSINE = 0.7
#: Opposite words before the same noun ("global optimum" against "local
#: optimum") are a narrow rule: it reads pieces this near a key point,
#: when the key point is the one they come nearest.
MODIFIER_COSINE = PARTIAL_COSINE
#: A misconception is stated by a piece at least this close to its claim
#: and closer to the claim than to its correction by this margin.
CLAIM_COSINE = 0.72
CLAIM_MARGIN = 0.06
#: The words and contradiction checks below only read a piece at least
#: this close to the claim: further away, it talks about something else.
NEAR_CLAIM_COSINE = 0.68
#: Or by a piece at least this near the claim that has every word only
#: the claim has, none only the correction has, and this share of the
#: claim's words: one term swapped for another.
SWAPPED_TERM_COSINE = 0.55
SWAPPED_TERM_SHARE = 0.6
#: Or by a piece on the topic with at least this share of the words only
#: the claim has, and a larger share of them than of those only the
#: correction has.
DISTINCT_SHARE = 0.5
DISTINCT_WORDS = 2
#: Coverage each status counts for in `point_coverage`.
STATUS_VALUE = {COVERED: 1.0, PARTIAL: 0.5, MISSING: 0.0}
#: Whether key points derived from an expected answer are its clauses
#: rather than its sentences.
CLAUSE_POINTS = True
#: Words of learner text quoted in feedback, at most.
QUOTE_WORDS = 12

#: What a grade is checked against: the key points (text, source) and the
#: misconceptions of the question, derived or given.
Reference = namedtuple('Reference', 'points sources misconceptions')


def reference(expected_answer, rubric=None):
    """The key points and misconceptions `expected_answer` is graded by:
    `rubric`'s when given, else the expected answer's sentences."""
    if rubric is not None and rubric.key_points:
        return Reference(
            tuple(k.point for k in rubric.key_points),
            tuple(', '.join(str(s) for s in k.sources)
                  for k in rubric.key_points),
            tuple(Misconception(m.claim, m.correction)
                  for m in rubric.misconceptions or ()))
    points = tuple(rubrics.sentences(' '.join(expected_answer.split()))) or \
        (expected_answer.strip(),)
    if CLAUSE_POINTS:
        points = tuple(c for p in points for c in (clauses(p) or [p]))
    return Reference(points, ('',) * len(points), ())


def point_parts(ref):
    """The clauses of each key point (empty for a one-clause point): a
    terse answer states a long key point in pieces, each near one
    clause."""
    return [clauses(p) for p in ref.points]


def reference_texts(ref):
    """Every text of `ref` to embed, in a fixed order (`split_vectors`)."""
    return list(ref.points) + [m.claim for m in ref.misconceptions] + \
        [m.correction for m in ref.misconceptions] + \
        [c for parts in point_parts(ref) for c in parts]


def split_vectors(ref, vectors):
    """The rows of `vectors` (embedded `reference_texts`) as key points,
    claims, corrections and the clauses of each key point."""
    n, m = len(ref.points), len(ref.misconceptions)
    parts, start = [], n + 2 * m
    for clause_list in point_parts(ref):
        parts.append(vectors[start:start + len(clause_list)])
        start += len(clause_list)
    return vectors[:n], vectors[n:n + m], vectors[n + m:n + 2 * m], parts


def point_cosines(point_vectors, part_vectors, piece_vectors):
    """For each key point and answer piece, how near the piece comes: the
    cosine with the whole point, or, when higher, the mean over the
    point's clauses of their best cosine with any piece (the answer then
    states the point across its pieces; the piece that comes nearest to
    the whole point stands for it)."""
    similarity = point_vectors @ piece_vectors.T
    for i, parts in enumerate(part_vectors):
        if len(parts):
            spread = float((parts @ piece_vectors.T).max(1).mean())
            j = int(np.argmax(similarity[i]))
            similarity[i, j] = max(similarity[i, j], spread)
    return similarity


def match(ref, vectors, pieces, piece_vectors, question_stems):
    """How the answer's `pieces` (sentences and clauses, embedded as
    `piece_vectors`) cover `ref`: a tuple of `PointGrade`s, the errors (a
    tuple of `Misconception`s: stated ones as the rubric words them,
    contradicted key points as the learner's words and the point) and the
    best cosine of each key point."""
    point_vectors, claims, corrections, parts = split_vectors(ref, vectors)
    if not pieces:
        return (tuple(PointGrade(p, MISSING, s)
                      for p, s in zip(ref.points, ref.sources)), (),
                [0.0] * len(ref.points))
    piece_stems = [set(content_stems(words(p))) for p in pieces]
    answer_stems = set().union(*piece_stems)
    similarity = point_cosines(point_vectors, parts, piece_vectors)
    # A piece speaks to the key points it comes nearest (within
    # `SIBLING_MARGIN`): "too large a rate overshoots" is near "too small a
    # rate is slow" too, but nearer its own point.
    nearest = similarity.max(0)
    similarity = np.where(similarity >= nearest - SIBLING_MARGIN,
                          similarity, np.minimum(similarity,
                                                 PARTIAL_COSINE))
    evidence, errors, best = [], [], []
    for i, (point, source) in enumerate(zip(ref.points, ref.sources)):
        cosines = similarity[i]
        j = int(np.argmax(cosines))
        best.append(float(cosines[j]))
        own = set(content_stems(words(point))) - question_stems or \
            set(content_stems(words(point)))
        share = len(own & answer_stems) / len(own) if own else 0.0
        contradicting = [k for k in np.flatnonzero(
            cosines >= MODIFIER_COSINE)
            if _contradicts(pieces[k], point, cosines[k])]
        if contradicting:
            k = max(contradicting, key=lambda k: cosines[k])
            errors.append(Misconception(quote(pieces[k]), point))
            status = MISSING
        elif cosines[j] >= COVERED_COSINE or (
                cosines[j] >= LEXICAL_COSINE and share >= LEXICAL_SHARE):
            status = COVERED
        elif cosines[j] >= PARTIAL_COSINE:
            status = PARTIAL
        else:
            status = MISSING
        evidence.append(PointGrade(point, status, source))
    for m, misconception in enumerate(ref.misconceptions):
        if stated(misconception, claims[m], corrections[m], pieces,
                  piece_vectors):
            errors.append(misconception)
    return tuple(evidence), tuple(_unique(errors)), best


def _contradicts(piece, point, cosine):
    """Whether `piece`, at `cosine` from key point `point` (or at most
    `PARTIAL_COSINE` when it speaks to another key point), contradicts
    it."""
    reason = contradiction(piece, point)
    if reason == 'modifier':
        return cosine > PARTIAL_COSINE
    return bool(reason) and cosine >= CONTRADICTS_POINT_COSINE


def stated(misconception, claim_vector, correction_vector, pieces,
           piece_vectors):
    """How one of `pieces` states `misconception` ('term', 'meaning',
    'words' or 'contradiction'; '' when none does), without denying the
    claim: it is close to the claim and closer to it than to the
    correction; or, on the topic, it uses more of the words only the
    claim has than of the words only the correction has (claim and
    correction are often too near in meaning for the embedding to tell
    them apart: "points towards the minimum" against "points where the
    loss increases"); or it says the opposite of the correction."""
    to_claim = piece_vectors @ claim_vector
    to_correction = piece_vectors @ correction_vector
    claim_stems = set(content_stems(words(misconception.claim)))
    correction_stems = set(content_stems(words(misconception.correction)))
    claim_only = claim_stems - correction_stems
    correction_only = correction_stems - claim_stems
    for k, piece in enumerate(pieces):
        # Every way of stating the claim needs a piece this near it: the
        # cheap test first, the rules only for the pieces that pass it.
        if to_claim[k] < SWAPPED_TERM_COSINE or \
                contradiction(piece, misconception.claim, odd_flips=False):
            continue
        has = set(content_stems(words(piece)))
        claim_share = _share(claim_only, has)
        # The claim's own term where the correction has another ("the
        # images form the rows" against "... the columns"), in a piece
        # that says most of what the claim says.
        if claim_only and correction_only and claim_only <= has and \
                not correction_only & has and \
                _share(claim_stems, has) >= SWAPPED_TERM_SHARE:
            return 'term'
        leaning = claim_share > _share(correction_only, has)
        if to_claim[k] < min(CLAIM_COSINE, NEAR_CLAIM_COSINE):
            # Less near, a piece whose words lean to the claim and that
            # says the opposite of the correction still states it ("it
            # suffers from the same shrinking gradients" against "it does
            # not shrink gradients").
            if leaning and contradiction(piece, misconception.correction):
                return 'contradiction'
            continue
        # Nearer the claim in meaning, unless its words side with the
        # correction ("That is recall, while precision divides by the
        # predicted positives" reads close to the claim it corrects).
        if to_claim[k] >= CLAIM_COSINE and \
                to_claim[k] >= to_correction[k] + CLAIM_MARGIN and \
                claim_share >= _share(correction_only, has) and \
                (claim_share or not claim_only):
            return 'meaning'
        if to_claim[k] < NEAR_CLAIM_COSINE:
            continue
        if claim_share >= DISTINCT_SHARE and \
                len(claim_only & has) >= DISTINCT_WORDS and leaning:
            return 'words'
        if contradiction(piece, misconception.correction):
            return 'contradiction'
    return ''


def _share(stems, found):
    return len(stems & found) / len(stems) if stems else 0.0


def point_coverage(evidence):
    """The share of the key points covered, a partly covered one counting
    half."""
    if not evidence:
        return 0.0
    return sum(STATUS_VALUE[g.status] for g in evidence) / len(evidence)


# -- Feedback

_MARKUP = re.compile(r"[<>{}\[\]`*#|\\]+")


def quote(text, limit=QUOTE_WORDS):
    """Learner text fit to quote in feedback: plain (no characters that
    look like markup), on one line, at most `limit` words."""
    plain = ' '.join(_MARKUP.sub(' ', text or '').split()).strip(' "\'')
    parts = plain.split()
    if len(parts) > limit:
        plain = ' '.join(parts[:limit]).rstrip(',;:.') + ' ...'
    return plain.rstrip('.!?;:, ')


def that_clause(sentence):
    """`sentence` to follow "that ...": its first letter lower case unless
    it starts a name or an abbreviation, without the closing stop."""
    sentence = ' '.join(sentence.split()).rstrip(' .!?;:')
    first = sentence.split(' ', 1)[0]
    if len(first) > 1 and (first[1:].lower() != first[1:] or
                           any(c.isdigit() for c in first)):
        return sentence
    return sentence[:1].lower() + sentence[1:]


def feedback_sentences(evidence, errors, mastered, misconceptions):
    """Whole sentences: what the answer has right, what is wrong (with its
    correction) and what it is missing (quoting the key point)."""
    lines = []
    covered = [g.point for g in evidence if g.status == COVERED]
    partial = [g.point for g in evidence if g.status == PARTIAL]
    missing = [g.point for g in evidence if g.status == MISSING]
    if covered:
        lines.append("You explained %s." % _join(
            ['that ' + that_clause(p) for p in covered]))
    for error in errors:
        if error in misconceptions:
            lines.append("You wrote that %s; in fact, %s." % (
                that_clause(error.claim), that_clause(error.correction)))
        else:
            lines.append('You wrote "%s", but %s.' % (
                error.claim, that_clause(error.correction)))
    for point in partial:
        lines.append("Your answer comes close to saying that %s, but does "
                     "not say it fully." % that_clause(point))
    missing_lead = ("To be complete, your answer could also say that %s."
                    if mastered else "Your answer does not yet say that %s.")
    for point in missing:
        if point in [e.correction for e in errors]:
            continue
        lines.append(missing_lead % that_clause(point))
    return lines


def _join(items):
    if len(items) == 1:
        return items[0]
    return '%s, and %s' % (', '.join(items[:-1]), items[-1])


def _unique(items):
    return list(dict.fromkeys(items))
