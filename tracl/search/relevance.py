"""Relevance: the calibrated score in [0, 1] a search shows and filters on,
and the two texts it compares (the query vector and the chunk text).

A raw cosine means different things from one embedding model to another
(all-MiniLM-L6-v2 rarely gives 0.65 even to a clearly relevant chunk, while
some API models give 0.7 to unrelated text), so the threshold is never
applied to it. Each embedding model gets a monotone map from cosine to
relevance, fitted on labelled query/chunk pairs, such that the default
threshold of 0.65 is a floor against junk (off-topic queries find nothing
above it) and not a filter that empties good results. Results are ranked by
cosine, which the map does not reorder.

The map is a logistic curve, `relevance = 1 / (1 + exp(-(slope * cosine +
intercept)))`, for each model in `CALIBRATIONS`; `bench/relevance_fit.py`
fits it and prints the constants. An unknown model gets the raw cosine,
clamped to [0, 1], and one warning: see `relevances`.

The chunk text (`chunk_text`) and the query vector (`query_vector`) are
part of the calibration: the constants hold only for vectors made the same
way, so the importer, the search and the benchmark all call these two
functions.

Only the standard library and numpy are used.
"""

import logging
import math
import threading
from collections import namedtuple

import numpy as np

#: Least relevance a chunk needs to be offered (`[learning]
#: relevance_threshold`): more than 65 % relevance. Each calibration below
#: puts 0.65 at the cosine floor that leaves off-topic queries with
#: nothing, so this one number holds whichever model is calibrated.
DEFAULT_THRESHOLD = 0.65

#: A logistic map from cosine to relevance, and what it was fitted on.
#: `lexical_weight` is how much a full lexical match (1.0) adds to the
#: cosine before the map: the fused score is `cosine + lexical_weight *
#: lexical` (0 for a model fitted on cosines alone).
#: `subject_weight` is how much a chunk gains in the ranking when its
#: subject holds all of the query's best candidates and little of the rest
#: (`ranking_scores`); 0 for none.
Calibration = namedtuple('Calibration',
                         'slope intercept fitted_on lexical_weight '
                         'subject_weight', defaults=(0.0, 0.0))

#: How many of the best candidates decide which subjects a query is
#: about (the pipeline's cut).
SUBJECT_CANDIDATES = 20

#: The calibrations, by embedding model (as `IEmbedder.model_name()` gives
#: it; see `_model_key` for the spellings that match).
#:
#: all-MiniLM-L6-v2, fitted with `bench/relevance_fit.py`:
#: - data: the starter corpus (156 chunks, 6 subjects, embedded as
#:   `chunk_text`) and the TRAIN split of `tests/data/queries/*.jsonl`
#:   (53 queries: 18 broad, 30 narrow, 5 off-topic); the query vector as
#:   the pipeline makes it, from the offline provider's five sentences;
#:   each query's top 20 chunks by cosine (the pipeline's cut): 1,060
#:   pairs, 233 labelled relevant.
#: - slope: logistic regression of the label on the cosine over those
#:   pairs, both classes weighted equally (Newton's method): 11.22 per unit
#:   of cosine, i.e. how fast relevance rises through the cosines where
#:   relevant and non-relevant candidates overlap.
#: - intercept: puts relevance 0.65 at cosine 0.348, the floor that
#:   maximises pair F1 on TRAIN (precision 0.40, recall 0.68, F1 0.505;
#:   floors from 0.33 to 0.41 are within 0.01 of it) among the floors
#:   that leave every off-topic query empty (their best cosines are
#:   0.19-0.32). A plain probability fit would put 0.65 at cosine 0.55 and
#:   leave 22 of the 48 on-topic TRAIN queries with nothing: "clearly
#:   relevant" here means above the junk floor, not "65 % likely to be
#:   labelled relevant".
#: - resulting scale: unrelated chunks (cosine 0.05-0.17) 0.06-0.20; the
#:   best chunk of an off-topic query (0.19-0.32) 0.24-0.58; the median
#:   non-relevant chunk of a top 20 (0.32) 0.58; the median relevant pair
#:   (0.42) 0.81; the 90th percentile (0.56) 0.95.
#: - held out (TEST: 6 broad, 18 narrow, 3 off-topic queries), threshold
#:   0.65: pair precision 0.40, recall 0.53; 1 of 24 on-topic queries left
#:   empty; every off-topic query empty; a relevant chunk in the top 5 of
#:   every narrow query (MRR 1.00, recall@5 0.87); broad recall@20 0.67.
#: Fitted on the offline provider's template sentences: an LLM's sentences
#: may shift cosines (the raw query alone fits 0.65 at cosine 0.337, close
#: to this); rerun the script with another provider to check.
CALIBRATIONS = {
    'sentence-transformers/all-MiniLM-L6-v2': Calibration(
        slope=8.86, intercept=-2.8868,
        fitted_on='starter corpus, 53 TRAIN queries, offline sentences '
                  'with the query, lexical weight 0.3; relevance 0.65 at '
                  'fused score 0.396',
        lexical_weight=0.3, subject_weight=0.3),
}

log = logging.getLogger(__name__)

_warned = set()
_warned_lock = threading.Lock()


def relevances(cosines, model_name, lexical=None):
    """The relevance in [0, 1] of each of `cosines` (raw cosines in
    [-1, 1], as every `IChunkStore` returns them) for vectors of
    `model_name`, as a float64 array of the same shape; with `lexical`
    (each chunk's `lexical_search` match in [0, 1], 0 for a chunk the
    words did not find), of the fused score (`fused_scores`).

    A model without a calibration gets the raw cosine clamped to [0, 1],
    with one warning per model and process. That is conservative for
    models whose unrelated pairs score near zero (MiniLM, mpnet,
    text-embedding-3-*): the 0.65 threshold then lets little or nothing
    through rather than junk. It is not for models whose unrelated pairs
    score high (text-embedding-ada-002, around 0.7): fit such a model with
    `bench/relevance_fit.py` before use.
    """
    cosines = np.asarray(cosines, dtype=np.float64)
    calibration = calibration_for(model_name)
    if calibration is None:
        _warn_uncalibrated(model_name)
        return np.clip(cosines, 0.0, 1.0)
    z = calibration.slope * fused_scores(cosines, lexical, calibration) + \
        calibration.intercept
    # exp(-z) overflows for z below about -709; relevance is 0 there.
    return 1.0 / (1.0 + np.exp(-np.maximum(z, -700.0)))


def fused_scores(cosines, lexical, calibration):
    """The score the relevance map reads, a calibrated sum: the cosine
    plus the lexical match times `calibration.lexical_weight`."""
    scores = np.clip(np.asarray(cosines, dtype=np.float64), -1.0, 1.0)
    if lexical is not None and calibration.lexical_weight:
        scores = scores + calibration.lexical_weight * np.clip(
            np.asarray(lexical, dtype=np.float64), 0.0, 1.0)
    return scores


def ranking_scores(cosines, lexical, subjects, model_name):
    """The order in which a search offers its candidates: the fused score
    plus `subject_weight` times how much more of the query's best
    candidates the chunk's subject holds than of all (`subject_shares`).

    The subject term keeps a path in the subject the query is about: a
    paragraph of another subject that happens to share words or meaning
    with the query ranks below the paragraphs of the subject most of the
    best candidates come from (on the Python documentation's topic
    queries, precision@20 0.95 against 0.92 without it). It chooses
    among the candidates and is no evidence of relevance: the floor is
    decided on the relevance alone, so an off-topic query whose weak
    candidates happen to share a subject is not lifted over it."""
    cosines = np.asarray(cosines, dtype=np.float64)
    calibration = calibration_for(model_name)
    if calibration is None:
        return cosines
    scores = fused_scores(cosines, lexical, calibration)
    if calibration.subject_weight and len(scores):
        scores = scores + calibration.subject_weight * subject_shares(
            scores, subjects)
    return scores


def subject_shares(scores, subjects, top=SUBJECT_CANDIDATES):
    """For each candidate, how much more of the `top` best candidates'
    weight its subject holds than of the candidates as a whole (each of
    the best weighing its score's lead over the last of them; 0 when the
    subject holds no more of the best than of all). Measured against the
    candidates as a whole, a library of one subject, or a query whose
    best candidates are spread like the rest, lifts nothing."""
    scores = np.asarray(scores, dtype=np.float64)
    names, index = np.unique(np.asarray(subjects, dtype=object).astype(str),
                             return_inverse=True)
    best = np.argsort(-scores, kind='stable')[:top]
    weights = scores[best] - scores[best].min() + 1e-9
    held = np.bincount(index[best], weights=weights,
                       minlength=len(names)) / weights.sum()
    whole = np.bincount(index, minlength=len(names)) / len(scores)
    return np.maximum(held - whole, 0.0)[index]


def relevance(cosine, model_name):
    """The relevance in [0, 1] of one raw `cosine` for `model_name`."""
    return float(relevances([cosine], model_name)[0])


def calibration_for(model_name):
    """The `Calibration` of `model_name`, or `None` when it has none."""
    key = _model_key(model_name)
    for name, calibration in CALIBRATIONS.items():
        if _model_key(name) == key:
            return calibration
    return None


def is_calibrated(model_name):
    """Whether `model_name`'s relevance is calibrated (else it is the
    clamped raw cosine)."""
    return calibration_for(model_name) is not None


def chunk_text(chunk):
    """The text embedded for `chunk`: "subject: concept: content".

    Measured with all-MiniLM-L6-v2 on the TRAIN queries
    (`bench/relevance_fit.py`, query vector from the offline sentences):
    against `content` alone, the ranks are the same within noise (narrow
    MRR 0.76 against 0.80, recall@5 0.82 against 0.79, broad recall@20
    0.83 against 0.81; "concept: content" sits between), but naming the
    subject separates relevant from non-relevant pairs better across
    queries (pair ROC AUC 0.951 against 0.943) and so serves one threshold
    better (best pair F1 0.505 against 0.472). Changing this text
    changes every stored vector and voids the calibration: reindex and
    refit.
    """
    parts = [' '.join(str(chunk.get(field) or '').split())
             for field in ('subject', 'concept', 'content')]
    return ': '.join(part for part in parts if part)


def query_vector(sentence_vectors, own=None):
    """The search vector from the embeddings of the provider's academic
    sentences (one unit row each) and of the learner's query itself
    (`own`, a unit vector, or None): the sentences' mean, normalised,
    plus the query's own vector, normalised again, as float32.

    The sentences widen a short request into the words of the subject;
    the query counts as much as all of them together, so that a specific
    question is not averaged away among five general sentences (on the
    Python documentation's questions this lifted recall@20 from 0.948 to
    0.961 before the lexical retrieval; see bench/retrieval_bench.py).

    Raises `ValueError` when there is no vector or their mean is zero.
    """
    vectors = np.asarray(sentence_vectors, dtype=np.float64)
    if vectors.ndim == 1:
        vectors = vectors[np.newaxis, :]
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError("A query vector needs at least one sentence "
                         "embedding, got an array of shape %s."
                         % (vectors.shape,))
    mean = _unit(vectors.mean(axis=0))
    if own is not None:
        own = np.asarray(own, dtype=np.float64).reshape(-1)
        if own.shape != mean.shape:
            raise ValueError("The query's own embedding has %d dimensions, "
                             "the sentences' %d." % (own.shape[0],
                                                     mean.shape[0]))
        mean = _unit(mean + own)
    return mean.astype(np.float32)


def _unit(vector):
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError("The sentence embeddings average to a zero or "
                         "non-finite vector: they cannot give a direction "
                         "to search in.")
    return vector / norm


# Internal functions

def _model_key(model_name):
    """`model_name` as compared: case and the `sentence-transformers/`
    prefix ignored, so an embeddings service serving `all-MiniLM-L6-v2`
    shares the local model's calibration (same vectors)."""
    name = str(model_name or '').strip().lower()
    prefix = 'sentence-transformers/'
    return name[len(prefix):] if name.startswith(prefix) else name


def _warn_uncalibrated(model_name):
    key = _model_key(model_name)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning("No relevance calibration for embedding model %r: using "
                "the raw cosine as relevance, so the %.2f threshold means "
                "nothing definite for it (too strict for MiniLM-like "
                "models). Fit one with bench/relevance_fit.py and add it "
                "to CALIBRATIONS in tracl/search/relevance.py.",
                model_name, DEFAULT_THRESHOLD)
