"""The vectors a chunk store accepts: query vectors and the embeddings
stored beside chunks, checked the same way by every store so that a bad
vector is refused with the same sentence whichever store is configured."""

import numpy as np


def check_query(vector):
    """`vector` as a unit float32 row, or ValueError."""
    query = np.asarray(vector, dtype=np.float32)
    if query.ndim != 1 or not query.shape[0]:
        raise ValueError('A query vector must be one row of numbers, not an '
                         'array of shape %s' % (query.shape,))
    if not np.isfinite(query).all():
        raise ValueError('The query vector holds NaN or infinite values')
    norm = float(np.linalg.norm(query))
    if norm == 0:
        raise ValueError('The query vector is all zeros')
    return query / norm


def check_embeddings(embeddings, count):
    """`embeddings` as a float32 array of `count` finite, non-zero rows, or
    ValueError."""
    vectors = np.asarray(embeddings, dtype=np.float32)
    if count == 0 and vectors.size == 0:
        return vectors.reshape(0, 0)
    if vectors.ndim != 2 or vectors.shape[0] != count or not vectors.shape[1]:
        raise ValueError('Embeddings must be an array of one row per chunk '
                         '(%d rows), not of shape %s'
                         % (count, vectors.shape))
    if not np.isfinite(vectors).all():
        raise ValueError('The embeddings hold NaN or infinite values')
    zero = np.flatnonzero(~vectors.any(axis=1))
    if zero.size:
        raise ValueError('The embedding of chunk %d is all zeros'
                         % (zero[0] + 1))
    return vectors


def check_model_name(model_name):
    """ValueError unless `model_name`, stored beside every vector, is a
    non-empty string."""
    if not isinstance(model_name, str) or not model_name.strip():
        raise ValueError('The embedding model name must be a non-empty '
                         'string, not %r' % (model_name,))
