"""Lexical retrieval: BM25 over the chunks' words, in memory.

The dense search finds text that means the same; it misses a rare name
the model never learnt ("Merkle", "asyncio.gather") and a specific
question whose words are the chunk's own. BM25 finds exactly those, so the
search pipeline fuses both.

Words are those the grader reads (`tracl.llm.text`: lower case, stop words
out, a light stemmer), so "hashing" finds "hash functions". A learner's
request words ("I want to understand", "teach me") are not searched: they
say what the learner wants, not what the text holds.

Scores use Lucene's BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5)
/ (df + 0.5))). A score is then divided by the most the query's words could
score together (the sum over its words of idf times k1 + 1, a word found in
no chunk counting with the idf of a document frequency of 0), so the
`lexical` value is in
[0, 1] and comparable between queries: 1 means every word of the query, each
well represented; a query about something the library does not hold scores
low even in its best chunk.

The index is a compressed sparse column of postings per word: a search
touches only the postings of the query's words, so it costs well under a
millisecond per word on 100,000 chunks. Only the standard library and numpy
are used.
"""

import numpy as np

from tracl.llm.text import is_content, stem, words

#: Term frequency saturation and length normalisation (Lucene's defaults).
K1 = 1.2
B = 0.75

#: Words of a learner's request that say what they want, not what the
#: text holds: left out of the lexical query.
REQUEST_WORDS = frozenset("""
want wants wanted understand understanding learn teach explain explained
tell please help know intro introduction basics basic overview
""".split())


def document_terms(text):
    """The stemmed content words of a chunk's text, with repeats."""
    return [stem(w) for w in words(text) if is_content(w)]


def query_terms(text):
    """The distinct stemmed words of a query searched lexically, in the
    order they come: stop words and request words left out."""
    return list(dict.fromkeys(stem(w) for w in words(text)
                              if is_content(w) and w not in REQUEST_WORDS))


class LexicalIndex(object):
    """BM25 postings of a fixed list of documents; never changed once
    built (a change builds a new index)."""

    def __init__(self, texts):
        """Index `texts` (one string per document, in position order)."""
        stems = {}              # word -> stem, computed once per word
        vocabulary = {}
        term_ids, doc_ids = [], []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for position, text in enumerate(texts):
            terms = []
            for word in words(text):
                term = stems.get(word)
                if term is None:
                    term = stems[word] = stem(word) if is_content(word) \
                        else ''
                if term:
                    terms.append(vocabulary.setdefault(term,
                                                       len(vocabulary)))
            lengths[position] = len(terms)
            term_ids.extend(terms)
            doc_ids.extend([position] * len(terms))
        self.count = len(texts)
        self.vocabulary = vocabulary
        terms = np.asarray(term_ids, dtype=np.int64)
        docs = np.asarray(doc_ids, dtype=np.int64)
        # One (term, document) pair per posting, with its frequency.
        pairs, frequencies = np.unique(terms * max(self.count, 1) + docs,
                                       return_counts=True)
        posting_terms = pairs // max(self.count, 1)
        self.docs = (pairs % max(self.count, 1)).astype(np.int32)
        self.offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.add.at(self.offsets, posting_terms + 1, 1)
        self.offsets = np.cumsum(self.offsets)
        average = float(lengths.mean()) if self.count else 1.0
        norms = K1 * (1 - B + B * lengths / max(average, 1e-9))
        tf = frequencies.astype(np.float32)
        # The saturated weight of each posting, idf applied at search.
        self.weights = (tf * (K1 + 1) / (tf + norms[self.docs])).astype(
            np.float32)
        df = np.diff(self.offsets).astype(np.float64)
        self.idf = np.log(1 + (self.count - df + 0.5) / (df + 0.5))
        self.unseen_idf = float(np.log(1 + (self.count + 0.5) / 0.5)) \
            if self.count else 0.0

    def search(self, text, limit):
        """The `limit` best documents for `text` as `(positions, lexical)`
        arrays, best first (ties by position); documents that share no
        word with the query are left out."""
        terms = query_terms(text)
        if not terms or not self.count or limit <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        scores = np.zeros(self.count, dtype=np.float64)
        most = 0.0
        for term in terms:
            index = self.vocabulary.get(term)
            if index is None:
                most += self.unseen_idf * (K1 + 1)
                continue
            start, end = self.offsets[index], self.offsets[index + 1]
            idf = self.idf[index]
            most += idf * (K1 + 1)
            scores[self.docs[start:end]] += idf * self.weights[start:end]
        matched = np.flatnonzero(scores)
        if not len(matched) or most <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        k = min(limit, len(matched))
        top = matched[np.argpartition(-scores[matched], k - 1)[:k]] \
            if k < len(matched) else matched
        top = top[np.lexsort((top, -scores[top]))]
        return top, np.clip(scores[top] / most, 0.0, 1.0)
