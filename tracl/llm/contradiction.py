"""Rules that tell when a sentence of an answer says the opposite of a
statement (a key point, or a misconception's correction).

Sentence embeddings cannot do this alone: MiniLM puts a sentence and its
negation at a cosine of about 0.9, so "is commutative" and "is not
commutative" look alike to it. The grader first finds the answer sentence
that talks about the same thing as the statement (by cosine and shared
words), then these rules look for what flips its meaning:

- a negated term: a word one side negates ("not", "never", "cannot",
  "doesn't", ...) and the other states plainly;
- a polarity pair: one side says "increases", "faster", "public",
  "local" where the other says "decreases", "slower", "private",
  "global" (`POLARITY_PAIRS`);
- swapped terms: the same two terms in the opposite order around a word
  that orders them ("A before B" against "B before A"), or the same
  letters in the opposite order ("AB" against "BA");
- a quantifier: the answer says "always", "never", "all", "must" where the
  statement hedges ("in general not", "usually", "some", "can");
- a degree: one side says a change is slight ("only a small change",
  "slightly different") where the other says it is large ("changes it
  completely", "a totally different digest", "changes about half of it").

No inference model runs offline; these rules are deliberately narrow, so a
rule that fires is a strong signal and a rule that misses leaves the grade
to the key points.
"""

import re

from tracl.llm.text import all_stems, content_stems, stem, words

#: Words that negate what follows them (within `NEGATION_REACH` words);
#: any word ending in "n't" does too, misspelt or not ("dosen't").
#: "Without" is left out: "without changing its direction" and "keeps its
#: direction" agree.
#: "Rather than" and "instead of" negate too: "appended rather than
#: edited" says "not edited".
NEGATIONS = frozenset("""
not no never cannot neither nor none nothing unlike rather instead
""".split())
NEGATION_REACH = 3
#: Words that deny what they govern without a negation word: a side
#: holding one is not "plain" ("keep delayed segments from being
#: mistaken" and "are not mistaken" agree).
IMPLICIT_NEGATIONS = frozenset("""
prevent prevents prevented preventing keep keeps kept stop stops stopped
avoid avoids avoided hard impossible unable fail fails failed without
lack lacks lacking nobody nowhere hardly
""".split())

#: Words of opposite meaning; each side a word or its stem.
POLARITY_PAIRS = (
    ('increase', 'decrease'), ('increase', 'reduce'), ('rise', 'fall'),
    ('raise', 'lower'), ('higher', 'lower'), ('more', 'less'),
    ('more', 'fewer'), ('larger', 'smaller'), ('bigger', 'smaller'),
    ('large', 'small'), ('big', 'small'), ('long', 'short'),
    ('longer', 'shorter'), ('faster', 'slower'), ('fast', 'slow'),
    ('maximum', 'minimum'), ('maximise', 'minimise'),
    ('maximize', 'minimize'), ('max', 'min'), ('add', 'subtract'),
    ('plus', 'minus'), ('public', 'private'), ('local', 'global'),
    ('before', 'after'), ('first', 'last'), ('same', 'different'),
    ('same', 'differ'), ('equal', 'differ'), ('equal', 'different'),
    ('true', 'false'), ('correct', 'incorrect'), ('linear', 'nonlinear'),
    ('source', 'destination'), ('sender', 'receiver'),
    ('encrypt', 'decrypt'), ('inside', 'outside'), ('input', 'output'),
    ('positive', 'negative'), ('upward', 'downward'), ('up', 'down'),
    ('uphill', 'downhill'), ('towards', 'away'), ('toward', 'away'),
    ('gain', 'loss'), ('accept', 'reject'), ('allow', 'block'),
    ('open', 'closed'), ('random', 'deterministic'),
    ('independent', 'dependent'), ('possible', 'impossible'),
    ('easy', 'hard'), ('cheap', 'expensive'), ('strong', 'weak'),
    ('high', 'low'), ('highest', 'lowest'), ('close', 'far'),
    ('closer', 'farther'), ('closer', 'further'), ('near', 'far'),
    ('heavy', 'light'), ('heavier', 'lighter'), ('hot', 'cold'),
    ('little', 'big'), ('little', 'large'), ('include', 'exclude'), ('inner', 'outer'), ('absorb', 'release'),
    ('absorb', 'emit'), ('gain', 'lose'), ('predicted', 'actual'),
    ('commutative', 'noncommutative'), ('reversible', 'irreversible'),
    ('symmetric', 'asymmetric'), ('synchronous', 'asynchronous'),
    ('centralised', 'decentralised'), ('centralized', 'decentralized'),
)

#: A polarity pair only flips a claim when the two sentences share at
#: least this share of the shorter one's content words: "too small: slow"
#: and "too large: overshoots" are two claims, not one flipped.
SHARED_WORDS = 0.5

#: Words that assert without exception.
ABSOLUTES = frozenset(['always', 'never', 'all', 'every', 'must',
                       'guaranteed', 'guarantees', 'guarantee', 'certainly'])
#: Words that hedge: the statement holds in general, not always.
HEDGES = re.compile(r"\b(?:in general|generally|usually|often|typically|"
                    r"sometimes|some|may|might|can|could|not always|"
                    r"not necessarily|need not|possibly|tends? to|mostly|"
                    r"depends? on|in most cases)\b", re.IGNORECASE)

#: Words that say how much something changes: slightly, and a lot. They
#: count only within `DEGREE_REACH` words of a word of change or
#: difference ("changes it completely", "only a small change", "a totally
#: different digest"): "completely deterministic" or "only a little
#: slower" says nothing of how much a change changes. A bare "small" is not
#: one: "a small change in the input" names the cause on both sides.
SLIGHT = re.compile(r"\b(?:only (?:a )?(?:small|slight|little|tiny|minor)|"
                    r"slightly|barely|marginally|a little|minimally)\b",
                    re.IGNORECASE)
LARGE = re.compile(r"\b(?:completely|entirely|totally|wholly|utterly|"
                   r"drastically|dramatically|radically|unrecogni[sz]ably|"
                   r"(?:about|roughly|around) half)\b", re.IGNORECASE)
DEGREE_REACH = 3
#: Stems of the words of change and difference a degree word describes.
CHANGE_STEMS = frozenset(stem(w) for w in """
change changes changed changing alter alters altered differ differs
different difference modify modifies modified shift shifts shifted vary
varies varied affect affects affected edit edits edited
""".split())

#: Words that order the two terms around them.
ORDERING = frozenset(['before', 'after', 'than', 'precedes', 'follows',
                      'into', 'to', 'from', 'by', 'over', 'then',
                      'divided', 'times'])

_LETTERS = re.compile(r"\b[A-Z](?:\s*[A-Z])+\b|\b[A-Z]{2,3}\b")


def _stems_polarity():
    table = {}
    for a, b in POLARITY_PAIRS:
        table.setdefault(stem(a), set()).add(stem(b))
        table.setdefault(stem(b), set()).add(stem(a))
    return table


_OPPOSITES = _stems_polarity()


def negated_stems(tokens):
    """The content stems of `tokens` that a negation word governs, and
    that the text does not also state plainly elsewhere ("a vector has
    size and direction; a number with no direction is a scalar" says
    nothing against "direction")."""
    negated, governed = set(), set()
    for i, token in enumerate(tokens):
        if token in NEGATIONS or token.endswith("n't"):
            for j in range(i + 1, min(len(tokens), i + 1 + NEGATION_REACH)):
                s = stem(tokens[j])
                if content_stems([tokens[j]]) or s in _OPPOSITES:
                    negated.add(s)
                    governed.add(j)
    plain = set(stem(t) for j, t in enumerate(tokens) if j not in governed)
    return negated - plain


def contradiction(sentence, statement, odd_flips=True):
    """Why `sentence` says the opposite of `statement` (a short reason
    such as 'negation'), or '' when no rule finds it does. With
    `odd_flips` false, any word against its opposite counts, even two
    ("too small: slow" against "larger: faster" is the other side of the
    claim, not the claim)."""
    a, b = words(sentence), words(statement)
    a_all, b_all = all_stems(a), all_stems(b)
    a_neg, b_neg = negated_stems(a), negated_stems(b)
    # A term one side negates and the other states plainly; only when the
    # other side has no negation word at all ("cannot scratch it" and
    # "none of the tools could scratch it" say the same thing in two ways;
    # "did not have a lot of it" and "contains little or no" too, though
    # the first negates only function words).
    if (a_neg and not _negates(b) and a_neg & b_all) or \
            (b_neg and not _negates(a) and b_neg & a_all):
        return 'negation'
    # A polarity pair, each word on its own side only, said of the same
    # thing (a content word shared near both: "public key" against
    # "private key"). Function words count: "more" against "less". A
    # sentence that holds both words of a pair relates them ("the fewer
    # drops, the more vitamin C"): its polarity words are not claims.
    a_content, b_content = set(content_stems(a)), set(content_stems(b))
    same_claim = len(a_content & b_content) >= \
        SHARED_WORDS * min(len(a_content), len(b_content))
    # Two flips say the same thing twice over ("a shorter string has a
    # higher pitch" and "a longer string has a lower pitch"): only an odd
    # number of them is a contradiction.
    flips = set()
    for i, word in enumerate(a):
        s = stem(word)
        if not same_claim or s in b_all or s in a_neg or \
                _relational(a_all) or _relational(b_all):
            continue
        for j, other in enumerate(b):
            o = stem(other)
            if o in _OPPOSITES.get(s, ()) and o not in a_all and \
                    o not in b_neg:
                flips.add((s, o, bool(_near(a, i) & _near(b, j))))
    pairs = len(set((s, o) for s, o, _ in flips))
    if (pairs % 2 or (pairs and not odd_flips)) and \
            any(near for _, _, near in flips):
        return 'polarity'
    if _flipped_modifier(a, b):
        return 'modifier'
    if _other_result(a, b):
        return 'number'
    if same_claim and (_swapped(a, b) or
                       _swapped_letters(sentence, statement)):
        return 'swap'
    if same_claim and set(a) & ABSOLUTES - set(b) and \
            HEDGES.search(statement) and not HEDGES.search(sentence):
        return 'quantifier'
    if same_claim and _other_degree(sentence, statement):
        return 'degree'
    return ''


def _other_degree(sentence, statement):
    """One side says a change is slight and the other that it is large,
    and neither says both: "changes the digest completely" or "changes
    about half of it" against "causes only a small change in the
    digest"."""
    def degree(text):
        slight = _describes_change(text, SLIGHT)
        large = _describes_change(text, LARGE)
        return 'slight' if slight and not large else \
            'large' if large and not slight else None
    a, b = degree(sentence), degree(statement)
    return bool(a and b and a != b)


def _describes_change(text, pattern):
    """Whether a match of `pattern` in `text` lies within `DEGREE_REACH`
    words of a word of change or difference."""
    for match in pattern.finditer(text):
        before = words(text[:match.start()])[-DEGREE_REACH:]
        after = words(text[match.end():])[:DEGREE_REACH]
        if any(stem(w) in CHANGE_STEMS for w in before + after):
            return True
    return False


def _flipped_modifier(a, b):
    """One side puts a word, the other its opposite, before the same
    content word, and neither side has both: "the global optimum"
    against "a poor local optimum", "low error" against "high error". The
    shared noun says both talk about the same thing, however little else
    they share."""
    a_all, b_all = all_stems(a), all_stems(b)
    if _relational(a_all) or _relational(b_all):
        return False
    follows = {}
    for i, word in enumerate(b[:-1]):
        if content_stems([b[i + 1]]):
            follows.setdefault(stem(b[i + 1]), set()).add(stem(word))
    for i, word in enumerate(a[:-1]):
        s = stem(word)
        if not content_stems([a[i + 1]]) or s in b_all:
            continue
        before = follows.get(stem(a[i + 1]), ())
        if any(o in _OPPOSITES.get(s, ()) and o not in a_all
               for o in before):
            return True
    return False


#: Words of a calculation between a term and its value: "the norm is
#: the square root of 1 + 4 + 4, which is 3".
_CALCULATION = frozenset('''
is are equals equal plus minus times of the a square root which sum
divided by over so about approximately gives makes
'''.split())


def results(tokens):
    """`{stem: value}`: the number each term is said to be ("the norm is
    1 + 4 + 4 = 9" gives the norm 9; "the norm of u is 3" gives 3), the
    last number of the calculation that follows "is" or "equals"."""
    found = {}
    for i, token in enumerate(tokens):
        if token.isdigit() or not content_stems([token]):
            continue
        j = i + 1
        if tokens[j:j + 1] == ['of'] and j + 2 < len(tokens):
            j += 2  # "the norm of u is 3"
        if tokens[j:j + 1] not in (['is'], ['equals'], ['are']):
            continue
        value = None
        for word in tokens[j + 1:]:
            if word.isdigit():
                value = word
            elif word not in _CALCULATION:
                break
        if value is not None:
            found.setdefault(stem(token), value)
    return found


def _other_result(a, b):
    """The same term said to be another number: "the norm is 9" against
    "the norm of u is 3" (and 3 nowhere in the first)."""
    a_results, b_results = results(a), results(b)
    return any(term in a_results and a_results[term] != value and
               value not in a for term, value in b_results.items())


def _negates(tokens):
    return any(t in NEGATIONS or t in IMPLICIT_NEGATIONS or
               t.endswith("n't") for t in tokens)


def _relational(stems):
    return any(_OPPOSITES.get(s, set()) & stems for s in stems)


def _near(tokens, i, reach=3):
    """The content stems within `reach` words of position `i`."""
    return set(content_stems(tokens[max(0, i - reach):i] +
                             tokens[i + 1:i + 1 + reach]))


def _swapped(a, b):
    """The same terms on opposite sides of the same ordering word: "the
    private key is derived from the public key" against "the public key is
    derived from the private key"."""
    for word in ORDERING:
        # A word that orders twice on a side ("assign each point to its
        # centroid, move each centroid to its mean") does not say which
        # terms it orders.
        if a.count(word) != 1 or b.count(word) != 1:
            continue
        i, j = a.index(word), b.index(word)
        a_left, a_right = set(content_stems(a[:i])), set(content_stems(a[i:]))
        b_left, b_right = set(content_stems(b[:j])), set(content_stems(b[j:]))
        moved_right = (a_left - a_right) & (b_right - b_left)
        moved_left = (a_right - a_left) & (b_left - b_right)
        if moved_right and moved_left:
            return True
    return False


def _swapped_letters(sentence, statement):
    """The same capital letters in another order: "AB" against "BA", or
    "AB ... BA" against "BA ... AB"."""
    def groups(text):
        return [m.group(0).replace(' ', '') for m in _LETTERS.finditer(text)]
    a, b = groups(sentence), groups(statement)
    if len(a) > 1 and sorted(a) == sorted(b) and a != b:
        return True
    return any(x[::-1] in b and x[::-1] != x and x not in b for x in a)
