"""The offline grader's calibration: the monotone map from the model's
probability that a teacher accepts an answer to a score that estimates
the teacher's mark. Fitted once on SciEntsBank (the constant in
`tracl.llm.offline_grader`), refitted on a deployment's own marked answers
by `learning calibrate`, and kept in the `calibrations` table, newest
active first. Fitting needs numpy only.
"""

import weakref
from collections import namedtuple

import numpy as np
from trac.util.datefmt import datetime_now, to_utimestamp, utc

from tracl.llm import MASTERY_THRESHOLD
from tracl.llm.metrics import balanced_accuracy
from tracl.llm.offline_grader import Calibration, OfflineGrader
from tracl.schema import sql

#: Balanced accuracy within which a decision probability counts as best:
#: the optimum is flat, and its argmax jumps from one sample to the next,
#: so the middle of the near-best candidates is taken.
PLATEAU = 0.005

#: The learning schema version that added the calibrations table.
CALIBRATIONS_SCHEMA = 6

#: Fewest marked answers a calibration is fitted on.
MIN_ROWS = 50

#: The environments known to have the calibrations table.
_READY = weakref.WeakSet()

#: A stored calibration.
StoredCalibration = namedtuple('StoredCalibration', [
    'id', 'calibration', 'rows_fitted', 'rows_held_out', 'agreement_before',
    'agreement_after', 'source', 'author', 'created_at'])


def fit_calibration(features, probabilities, labels):
    """The `Calibration` for answers with these `features` (the grader's,
    guards and rules included), model `probabilities` and 0/1 `labels`:
    the probability whose cut has the best balanced accuracy (the middle
    of the near-best ones) goes on the mastery threshold, and the
    steepness below it makes the mean score match the mean mark."""
    p = np.asarray(probabilities, float)
    labels = np.asarray(labels, float)

    def scores(calibration):
        return np.array([OfflineGrader.score(f, q, calibration)
                         for f, q in zip(features, p)])
    candidates = np.unique(np.round(np.quantile(p, np.linspace(
        0.2, 0.9, 71)), 4))
    accuracies = np.array([balanced_accuracy(
        scores(Calibration(float(d), 2.0, 1.0)), labels, MASTERY_THRESHOLD)
        for d in candidates])
    decision = float(np.median(
        candidates[accuracies >= accuracies.max() - PLATEAU]))
    low, high = 0.05, 20.0
    for _ in range(30):
        below = (low * high) ** 0.5
        if scores(Calibration(decision, below, 1.0)).mean() > labels.mean():
            low = below
        else:
            high = below
    return Calibration(round(decision, 4), round(below, 3), 1.0)


def active_calibration(env):
    """The newest active `StoredCalibration`, or None (the grader then
    uses its built-in one), also in an environment whose learning tables
    are not created yet (the provider grades for `grade-eval` and the
    benches without them)."""
    if not _has_calibrations(env):
        return None
    with env.db_query as db:
        rows = db(sql(env, """
            SELECT id, decision, below, above, rows_fitted, rows_held_out,
                   agreement_before, agreement_after, source, author,
                   created_at
            FROM {calibrations} WHERE active=1
            ORDER BY id DESC LIMIT 1"""))
    if not rows:
        return None
    (cid, decision, below, above, fitted, held, before, after, source,
     author, created) = rows[0]
    return StoredCalibration(int(cid), Calibration(float(decision),
                                                   float(below),
                                                   float(above)),
                             fitted, held, before, after, source, author,
                             created)


def _has_calibrations(env):
    """Whether the environment's learning schema has the calibrations
    table (version 6 or later). Asked of the database until it has: the
    answer cannot turn back, and grading asks it for every answer."""
    if env in _READY:
        return True
    from trac.db.api import DatabaseManager
    from tracl.schema import SCHEMA_VERSION_NAME
    version = DatabaseManager(env).get_database_version(SCHEMA_VERSION_NAME)
    if version and int(version) >= CALIBRATIONS_SCHEMA:
        _READY.add(env)
        return True
    return False


def store_calibration(env, calibration, rows_fitted, rows_held_out,
                      agreement_before, agreement_after, source, author):
    """Keep `calibration` as the active one; returns its id."""
    now = to_utimestamp(datetime_now(utc))
    with env.db_transaction as db:
        db(sql(env, """
            INSERT INTO {calibrations} (decision, below, above, rows_fitted,
                rows_held_out, agreement_before, agreement_after, source,
                author, active, created_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s)"""),
           (calibration.decision, calibration.below, calibration.above,
            rows_fitted, rows_held_out, agreement_before, agreement_after,
            source, author, now))
        return db(sql(env, 'SELECT MAX(id) FROM {calibrations}'))[0][0]


def roll_back(env):
    """Deactivate the active calibration; returns the one active now (or
    None for the built-in one), or raises LookupError when none was."""
    with env.db_transaction as db:
        rows = db(sql(env, """
            SELECT MAX(id) FROM {calibrations} WHERE active=1"""))
        if not rows or rows[0][0] is None:
            raise LookupError('no calibration to roll back')
        db(sql(env, 'UPDATE {calibrations} SET active=0 WHERE id=%s'),
           (rows[0][0],))
    return active_calibration(env)
