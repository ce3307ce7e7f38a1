"""The offline provider's questions: what it asks about a chunk, and the
rubric it grades the answer against.

Without a model, the only text the provider can be sure of is the chunk's
own. So the key points are whole sentences of the chunk (its definition,
then the sentences that explain a cause, a purpose or a consequence, then
those naming the concept), the expected answer is those sentences joined,
and the question is built to ask only what they answer: the difficulty
changes the form of the question (what it is, how it works and why, what
happens when), but a form is used only when a key point states what it asks
for; otherwise the question falls back to a simpler form.

The concept name is put into English with a small rule set: plural names
("Smart Contracts", "Matrices and Transposes") take "are", "do" and
"they"; common words are lowercased unless the chunk writes them
capitalised mid-sentence (proper names such as "Ethernet" or "Bloch");
singular count nouns ("Spectral Theorem") take "the".

No misconceptions are written: a false claim cannot be derived soundly
from true sentences by rules, and a wrong one would mislead the grader.
"""

import re
from collections import namedtuple

from tracl.model.rubrics import KeyPoint, MAX_KEY_POINTS, sentences

#: Bounds of an expected answer, in characters: long enough to state the
#: idea, short enough to grade against.
MAX_EXPECTED_ANSWER = 1000
MIN_EXPECTED_ANSWER = 200

#: Key points a question gets when the text has enough sentences.
MIN_CHOSEN_POINTS = 3

#: Words marking a sentence that explains (cause, purpose, consequence).
_EXPLAINING = re.compile(
    r"\b(because|so that|therefore|thus|which means|means that|allows?|"
    r"enables?|ensures?|prevents?|matters?|why|in order to|as a result|"
    r"so\b)", re.IGNORECASE)

# What a key point must state for a question to ask about it.
_CAUSE = re.compile(
    r"\b(because|since|therefore|thus|hence|as a result|which means|"
    r"means that|so that|in order to|which is why|that is why)\b|, so\b",
    re.IGNORECASE)
_PURPOSE = re.compile(
    r"\b(so that|in order to|allows?|enables?|lets|makes? it possible|"
    r"used (?:to|for))\b", re.IGNORECASE)
_MATTERS = re.compile(
    r"\b(matters?|(?:is|are) (?:important|essential|useful))\b",
    re.IGNORECASE)
_PREVENTS = re.compile(
    r"\b(prevents?|protects?|resists?|avoids?|guards? against)\b",
    re.IGNORECASE)
_GUARANTEES = re.compile(r"\b(ensures?|guarantees?)\b", re.IGNORECASE)
# "When a link fails, ...": the condition a "what happens" question names.
# A condition opening with a pronoun would not say what it is about.
_CONDITION = re.compile(
    r"^(When|If|Whenever|Once)\s+(?!(?:it|they|this|these|that|those|its|"
    r"their)\b)([^,;:]{8,120}),\s", re.IGNORECASE)
MAX_CONDITION_WORDS = 12
# Conditions that do not read well out of their sentence: formulas, a
# demonstrative pointing at an earlier sentence, a gerund with no subject.
_UNQUOTABLE_CONDITION = re.compile(
    r"[=|<>^]|\b(?:this|these|those|such)\b|^\w+ing\b", re.IGNORECASE)

# Words ending in "s" that still name one thing or a mass.
_SINGULAR_IN_S = frozenset([
    'bias', 'basis', 'gas', 'lens', 'news', 'series', 'species', 'status',
    'chaos', 'squares'])
# Plurals the endings alone would miss: without a final "s", or in "-ics"
# (which otherwise names a field, as "physics" does).
_ALWAYS_PLURAL = frozenset([
    'mitochondria', 'data', 'criteria', 'phenomena', 'bacteria', 'nuclei',
    'people', 'children', 'media', 'basics', 'metrics', 'topics',
    'characteristics'])
# Eponyms a chunk may write only at the start of sentences, where their
# capital proves nothing.
_PROPER_WORDS = frozenset([
    'bayes', 'bayesian', 'boolean', 'euclidean', 'euler', 'fourier',
    'gaussian', 'hermitian', 'hilbert', 'laplace', 'markov', 'newton',
    'turing'])
# Head nouns of names that count one thing and so take "the" when singular.
_COUNT_HEADS = frozenset([
    'algorithm', 'architecture', 'chain', 'code', 'cycle', 'handshake',
    'mechanism', 'membrane', 'model', 'nucleus', 'problem', 'process',
    'product', 'protocol', 'rule', 'space', 'sphere', 'system', 'theorem',
    'tradeoff', 'transform', 'cytoskeleton'])
# Words after which a name's head noun has ended.
_PREPOSITIONS = frozenset(['of', 'in', 'for', 'on', 'with', 'to', 'between',
                           'under', 'over', 'from'])
_ARTICLES = frozenset(['the', 'a', 'an'])


class ConceptName(namedtuple('ConceptName', ['text', 'plural'])):
    """A concept's name as it reads inside a sentence, and the words that
    agree with it."""

    __slots__ = ()

    @property
    def be(self):
        return 'are' if self.plural else 'is'

    @property
    def do(self):
        return 'do' if self.plural else 'does'

    @property
    def it(self):
        return 'they' if self.plural else 'it'

    @property
    def its(self):
        return 'their' if self.plural else 'its'


def is_plural(name):
    """Whether concept `name` takes a plural verb: "and"-compounds and
    names whose head noun is plural ("Systems of Linear Equations")."""
    words = _head_part(name).split()
    if not words:
        return False
    if 'and' in (w.lower() for w in words) or \
            any(w.endswith(',') for w in words[:-1]):
        return True
    head = words[-1].split('-')[-1]
    lower = head.lower()
    if lower in _ALWAYS_PLURAL:
        return True
    if lower in _SINGULAR_IN_S or not lower.endswith('s') or \
            lower.endswith(('ss', 'us', 'is', 'ics')):
        return False
    # An acronym ("DNS") is one thing; one pluralised in lowercase
    # ("UTXOs") is several.
    return not head.isupper()


def concept_name(name, content=''):
    """`name` as it reads mid-sentence, with its number: common words
    lowercased, proper names and acronyms kept, "the" before a singular
    count noun."""
    name = ' '.join((name or '').split())
    plural = is_plural(name)
    if _appears_mid_sentence(name, content) or \
            re.search(r'%s \([A-Z0-9]{2,}\)' % re.escape(name), content or ''):
        text = name  # a proper name, as the chunk writes it
    else:
        text = ' '.join(_cased(word, content) for word in name.split())
    conjuncts = re.split(r'(\s+and\s+|,\s+)', text)
    for i in range(0, len(conjuncts), 2):
        conjuncts[i] = _with_article(conjuncts[i], content)
    return ConceptName(''.join(conjuncts), plural)


def rank_sentences(concept, texts):
    """Indexes of `texts` in the order a good answer needs them: the
    definition (first sentence), then the ones that explain (cause,
    purpose, consequence), then the ones naming the concept, in the
    text's order."""
    name = concept.lower()
    return sorted(range(len(texts)), key=lambda i: (
        i != 0, not _EXPLAINING.search(texts[i]),
        name not in texts[i].lower(), i))


def key_points(concept, content, difficulty=3, limit=MAX_EXPECTED_ANSWER):
    """The `KeyPoint`s of a question about `concept`: whole sentences of
    `content`, in the order `rank_sentences` gives, each naming its own
    number, together at most `limit` characters. Harder questions ask what
    happens under a condition, so from difficulty 4 on a sentence stating
    one is taken when the text has it."""
    texts = [' '.join(s.split()) for s in sentences(content)]
    chosen, length = [], 0
    for i in rank_sentences(concept, texts):
        if length + len(texts[i]) + 1 > limit:
            continue
        chosen.append(i)
        length += len(texts[i]) + 1
        if (length >= MIN_EXPECTED_ANSWER and
                len(chosen) >= MIN_CHOSEN_POINTS) or \
                len(chosen) == MAX_KEY_POINTS:
            break
    if difficulty >= 4 and not any(_condition(texts[i]) for i in chosen):
        extra = [i for i in range(len(texts))
                 if i not in chosen and _condition(texts[i])]
        if extra and chosen:
            if len(chosen) == MAX_KEY_POINTS:
                length -= len(texts[chosen.pop()]) + 1
            if length + len(texts[extra[0]]) + 1 <= limit:
                chosen.append(extra[0])
    return tuple(KeyPoint(texts[i], [i + 1]) for i in chosen)


def expected_answer(points):
    """The answer a question with key `points` expects: their sentences
    in the text's order."""
    return ' '.join(p.point for p in sorted(points, key=lambda p: p.sources))


def write_question(concept, content, difficulty, points):
    """A question about `concept` at `difficulty` 1-5 that asks only what
    key `points` answer: the hardest form the difficulty allows whose
    premise a key point states, else a simpler one."""
    name = concept_name(concept, content)
    facts = [p.point for p in points]
    for form in _FORMS[difficulty]:
        question = form(name, facts)
        if question:
            return _sentence_case(question)
    raise AssertionError('the last form always applies')


# Question forms: each returns a question, or None when no key point
# states what it would ask for.

def _what_makes_possible(name, facts):
    if _any(_PURPOSE, facts):
        return 'What %s %s, and what %s %s make possible?' % (
            name.be, name.text, name.do, name.it)


def _what_protects_against(name, facts):
    if _any(_PREVENTS, facts):
        return 'What %s %s, and what %s %s protect against?' % (
            name.be, name.text, name.do, name.it)


def _what_guarantees(name, facts):
    if _any(_GUARANTEES, facts):
        return 'What %s %s, and what %s %s guarantee?' % (
            name.be, name.text, name.do, name.it)


def _what_and_why_it_matters(name, facts):
    if _any(_MATTERS, facts):
        return 'What %s %s, and why %s %s matter?' % (
            name.be, name.text, name.do, name.it)


def _what_and_main_features(name, facts):
    return 'What %s %s, and what are %s main features?' % (
        name.be, name.text, name.its)


def _how_and_why(name, facts):
    if _any(_CAUSE, facts):
        return 'How %s %s work, and why %s %s work that way?' % (
            name.do, name.text, name.do, name.it)


def _what_happens_when(name, facts):
    for fact in facts:
        condition = _condition(fact)
        if condition:
            return 'In %s, what happens %s?' % (name.text, condition)


def _what_happens_when_and_why(name, facts):
    for fact in facts:
        condition = _condition(fact)
        if condition and _CAUSE.search(fact):
            return 'In %s, what happens %s, and why?' % (name.text,
                                                          condition)


def _why_needed(name, facts):
    if _any(_PREVENTS, facts):
        return 'Why %s %s needed, and what %s %s protect against?' % (
            name.be, name.text, name.do, name.it)


def _why_it_matters(name, facts):
    if _any(_MATTERS, facts):
        return 'Why %s %s matter?' % (name.do, name.text)


def _why_it_matters_and_how(name, facts):
    if _any(_MATTERS, facts) and _any(_CAUSE, facts):
        return 'Why %s %s matter, and how %s %s work?' % (
            name.do, name.text, name.do, name.it)


_BASIC = [_what_makes_possible, _what_protects_against, _what_guarantees,
          _what_and_why_it_matters, _what_and_main_features]
_EXPLAIN = [_what_and_why_it_matters, _what_protects_against,
            _what_guarantees, _what_makes_possible, _what_and_main_features]
_MECHANISM = [_how_and_why] + _EXPLAIN
_CONSEQUENCE = [_what_happens_when, _why_needed, _why_it_matters] + \
    _MECHANISM
_ANALYSIS = [_what_happens_when_and_why, _why_it_matters_and_how] + \
    _CONSEQUENCE

#: The forms tried at each difficulty, hardest first.
_FORMS = {1: _BASIC, 2: _EXPLAIN, 3: _MECHANISM, 4: _CONSEQUENCE,
          5: _ANALYSIS}


def _any(pattern, facts):
    return any(pattern.search(fact) for fact in facts)


def _condition(sentence):
    """'when a link fails' for "When a link fails, ...", else None."""
    match = _CONDITION.match(sentence)
    if not match or len(match.group(2).split()) > MAX_CONDITION_WORDS or \
            _UNQUOTABLE_CONDITION.search(match.group(2)):
        return None
    return '%s %s' % (match.group(1).lower(), match.group(2))


def _sentence_case(question):
    return question[:1].upper() + question[1:]


def _head_part(name):
    """The words of `name` before its first preposition: "Systems" of
    "Systems of Linear Equations", where the number is decided."""
    words = []
    for word in name.split():
        if word.lower() in _PREPOSITIONS:
            break
        words.append(word)
    return ' '.join(words)


def _appears_mid_sentence(phrase, content):
    """Whether `content` writes `phrase` with this very case after the
    start of a sentence: then its capitals are a proper name's."""
    pattern = r'(?<![.!?]\s)(?<!^)(?<![\w-])%s(?![\w-])' % re.escape(phrase)
    return bool(re.search(pattern, ' '.join((content or '').split())))


def _cased(word, content):
    """`word` of a title-case name as it reads mid-sentence."""
    parts = word.split('-')
    if len(parts) > 1 and not _appears_mid_sentence(word, content):
        return '-'.join(_cased(part, content) for part in parts)
    if not word[:1].isupper() or word[1:] != word[1:].lower() or \
            len(word) == 1 or any(c.isdigit() for c in word) or \
            "'" in word or '\u2019' in word:
        return word  # lowercase already, an acronym, a letter, a possessive
    if word.lower() in _PROPER_WORDS:
        return word
    if _appears_mid_sentence(word, content) and not re.search(
            r'(?<![\w-])%s(?![\w-])' % re.escape(word.lower()),
            content or ''):
        return word  # a proper name: the text never lowercases it
    return word.lower()


def _with_article(phrase, content):
    """`phrase` with "the" when it is a singular count noun, or one the
    chunk itself mostly writes with "the"."""
    words = phrase.split()
    if not words or words[0].lower() in _ARTICLES or \
            words[0].endswith(("'s", '\u2019s')) or is_plural(phrase):
        return phrase
    head = _head_part(phrase).split()
    if head and head[-1].lower() in _COUNT_HEADS:
        return 'the ' + phrase
    text = ' '.join((content or '').split()).lower()
    total = len(re.findall(r'(?<![\w-])%s(?![\w-])'
                           % re.escape(phrase.lower()), text))
    with_the = len(re.findall(r'\bthe %s(?![\w-])'
                              % re.escape(phrase.lower()), text))
    return 'the ' + phrase if total and with_the * 2 > total else phrase
