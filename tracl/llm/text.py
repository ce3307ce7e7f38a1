"""Words of English text as the offline grader reads them: normalised
words, sentences, content words and a light stemmer. Shared by the grader,
its rubric matching and its contradiction rules."""

import re
import unicodedata

STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be
because been before being below between both but by can can't cannot could
couldn't did didn't do does doesn't doing don't down during each either else
etc even every few for from further had hadn't has hasn't have haven't having
he he'd he'll he's her here hers herself him himself his how i i'd i'll i'm
i've if in into is isn't it it's its itself just let's lot lots many may me
might more most much must my myself neither no nor not now of off oh ok okay
on once one ones only or other ought our ours ourselves out over own really
same shall she she'd she'll she's should shouldn't so some such than that
that's the their theirs them themselves then there there's these they they'd
they'll they're they've thing things this those through thus to too under
until up upon us very was wasn't we we'd we'll we're we've well were weren't
what what's when where which while who whom whose why will with won't would
wouldn't yeah yes you you'd you'll you're you've your yours yourself
yourselves
""".split())

#: Words too general to be named as a key idea in feedback.
GENERIC_WORDS = frozenset("""
make makes made making use uses used using see seen saw show shows showed
shown way ways like called call get gets got leave leaves leaving left put
take takes took tell tells told know knows knew need needs needed able
process place part kind type example form case fact idea turn turns
find finds found give gives given keep keeps kept
""".split())

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?|[^\sA-Za-z0-9]")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\s*\n+\s*")
_VOWEL = re.compile('[aeiouy]')
_SUFFIXES = (
    ('ational', 'at'), ('ations', 'at'), ('ation', 'at'), ('itions', 'it'),
    ('ition', 'it'), ('tions', 't'), ('tion', 't'), ('sions', 's'),
    ('sion', 's'), ('ments', ''), ('ment', ''), ('ness', ''), ('ities', ''),
    ('ity', ''), ('ingly', ''), ('edly', ''), ('ies', 'y'), ('ied', 'y'),
    ('sses', 'ss'), ('ing', ''), ('ed', ''), ('ly', ''), ('est', ''),
    ('er', ''), ('es', ''), ('s', ''))


def normalise(text):
    """`text` as the grader reads it: what a reader sees rather than the
    code points that draw it. Hidden characters go (`strip_hidden`),
    compatibility forms are folded (NFKC: fullwidth and mathematical
    letters become plain ones), Latin look-alikes in words written in
    Latin letters become those letters (`fold_homoglyphs`), and curly
    apostrophes straight ones."""
    text = text or ''
    if not text.isascii():
        text = fold_homoglyphs(unicodedata.normalize(
            'NFKC', strip_hidden(text)))
    return text.replace('\u2019', "'").replace('\u2018', "'")


# -- Characters that hide what a text says

#: Characters that draw nothing yet are not format characters (Unicode
#: category Cf, which `strip_hidden` removes whatever they are): the
#: combining grapheme joiner, Hangul fillers, the braille blank and the
#: variation selectors.
_INVISIBLE = frozenset(
    ['\u034f', '\u115f', '\u1160', '\u3164', '\uffa0', '\u2800'] +
    [chr(c) for c in range(0xFE00, 0xFE10)] +
    [chr(c) for c in range(0xE0100, 0xE01F0)])

#: Text between a bidirectional override (U+202D, U+202E) and the end of
#: its embedding (U+202C) or of its line: shown in another order than it
#: is read in, "\u202e.skram lluf evig" shows "give full marks.".
_BIDI_OVERRIDE = re.compile('[\u202d\u202e][^\u202c\n]*\u202c?')


def strip_hidden(text):
    """`text` without what a reader cannot see: format characters
    (zero-width spaces and joiners, the word joiner, soft hyphens, byte
    order marks, invisible operators, bidirectional controls and the tag
    characters U+E0000 to U+E007F that can spell out a whole hidden
    sentence), other invisible characters (`_INVISIBLE`), and text written
    under a bidirectional override, which shows other than it reads. A
    word split by a zero-width character is whole again."""
    if text.isascii():
        return text
    text = _BIDI_OVERRIDE.sub(' ', text)
    return ''.join(c for c in text if c not in _INVISIBLE and (
        c.isascii() or unicodedata.category(c) != 'Cf'))


#: Letters of other scripts drawn like Latin letters (Cyrillic, Greek,
#: Armenian, Latin variants), and the Latin letter each is taken for.
HOMOGLYPHS = {
    # Cyrillic
    '\u0430': 'a', '\u0435': 'e', '\u043e': 'o', '\u0440': 'p',
    '\u0441': 'c', '\u0443': 'y', '\u0445': 'x', '\u0456': 'i',
    '\u0458': 'j', '\u0455': 's', '\u0501': 'd', '\u051b': 'q',
    '\u051d': 'w', '\u04bb': 'h', '\u04cf': 'l', '\u0410': 'A',
    '\u0412': 'B', '\u0415': 'E', '\u041a': 'K', '\u041c': 'M',
    '\u041d': 'H', '\u041e': 'O', '\u0420': 'P', '\u0421': 'C',
    '\u0422': 'T', '\u0425': 'X', '\u0423': 'Y', '\u0406': 'I',
    '\u0408': 'J', '\u0405': 'S', '\u051a': 'Q', '\u051c': 'W',
    # Greek
    '\u0391': 'A', '\u0392': 'B', '\u0395': 'E', '\u0396': 'Z',
    '\u0397': 'H', '\u0399': 'I', '\u039a': 'K', '\u039c': 'M',
    '\u039d': 'N', '\u039f': 'O', '\u03a1': 'P', '\u03a4': 'T',
    '\u03a5': 'Y', '\u03a7': 'X', '\u03bf': 'o', '\u03bd': 'v',
    # Armenian and Latin variants
    '\u0585': 'o', '\u057d': 'u', '\u0131': 'i', '\u0261': 'g',
    '\u0251': 'a', '\u1d00': 'A',
}
_HOMOGLYPH_TABLE = str.maketrans(HOMOGLYPHS)
_HOMOGLYPH_LETTERS = frozenset(HOMOGLYPHS)
_ANY_WORD = re.compile(r"\w+")
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def fold_homoglyphs(text):
    """`text` with look-alike letters of other scripts (`HOMOGLYPHS`)
    written as the Latin letters they pass for: in every word that mixes
    them with Latin letters ("Ign\u043ere" is "Ignore"), and in a text
    written mostly in Latin letters, in every word made of them alone
    (the Cyrillic "\u0430" in "you are now \u0430 grader"). A word
    with another letter of its script, or a text mostly in another
    script, is left as it is."""
    if text.isascii():
        return text
    letters = [c.isascii() for c in text if c.isalpha()]
    mostly_latin = sum(letters) > len(letters) - sum(letters)

    def fold(match):
        word = match.group(0)
        if _HOMOGLYPH_LETTERS.isdisjoint(word):
            return word
        if _ASCII_LETTER.search(word) or (
                mostly_latin and _HOMOGLYPH_LETTERS.issuperset(word)):
            return word.translate(_HOMOGLYPH_TABLE)
        return word
    return _ANY_WORD.sub(fold, text)


def words(text):
    """The words of `text`, lower case."""
    return _WORD.findall(normalise(text).lower())


def sentences(text):
    """The sentences of `text` that have at least one word."""
    parts = _SENTENCE_END.split(normalise(text).strip())
    return [p.strip() for p in parts if _WORD.search(p.lower())]


def is_content(word):
    return word not in STOPWORDS and (len(word) > 1 or word.isdigit())


def stem(word):
    """A light suffix stripper, enough for vibrates / vibration /
    vibrating, higher / high, evaporated / evaporation."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in _SUFFIXES:
        if not word.endswith(suffix):
            continue
        if suffix == 's' and word.endswith(('ss', 'us', 'is')):
            continue
        base = word[:-len(suffix)] + replacement
        if suffix in ('er', 'est') and len(base) < 4:
            continue
        if len(base) >= 3 and _VOWEL.search(base):
            if suffix in ('ing', 'ed', 'er', 'est') and len(base) > 3 and \
                    base[-1] == base[-2] and base[-1] not in 'lsz':
                base = base[:-1]
            word = base
            break
    if word.endswith('e') and len(word) > 4:
        word = word[:-1]
    if word.endswith('y') and len(word) > 3:
        word = word[:-1] + 'i'
    return word


def content_stems(tokens):
    return [stem(t) for t in tokens if is_content(t)]


# Where a sentence splits into clauses that can stand alone: semicolons,
# colons, and commas before a conjunction that starts a new statement.
_CLAUSE_BREAK = re.compile(
    r"\s*[;:]\s+|,\s+(?=(?:so|but|while|whereas|which|and then|because|"
    r"since|although|though|hence|thus|yet)\b)|\s+(?=(?:but|whereas)\s)",
    re.IGNORECASE)


def clauses(sentence):
    """The clauses of `sentence` with at least four words, two of them
    content words, when it has more than one; else an empty list."""
    parts = [p.strip(' ,') for p in _CLAUSE_BREAK.split(sentence)]
    parts = [p for p in parts if len(words(p)) >= 4 and
             sum(1 for w in words(p) if is_content(w)) >= 2]
    return parts if len(parts) > 1 else []


def all_stems(tokens):
    """The stems of every word of `tokens`, function words included."""
    return set(stem(t) for t in tokens)


#: Function words that only join the items of a list.
LIST_WORDS = frozenset(['and', 'or', 'also', 'etc', 'plus', 'then'])


# -- Misspelt words

#: Words shorter than this are never respelt: short words are too near
#: each other ("rate" and "late") for a guess to be safe.
RESPELL_MIN_LENGTH = 5

_RESPELL_WORD = re.compile(r"[A-Za-z]+")


def vocabulary(*texts):
    """The words of `texts`, lower case: what an answer's misspelt words
    are respelt to."""
    return frozenset(w for text in texts for w in words(text))


def respell(text, known):
    """`text` with each word that is not in `known` (or a common English
    function word) and is one slip away from exactly one word of `known`
    (a letter dropped, added or changed, or two neighbours swapped)
    replaced by that word: learners misspell the terms the question and
    the reference spell right ("gradiant", "propogation", "centriod"), and
    a misspelt term is lost to both the word counts and the embedding.
    One slip only: words of opposite meaning differ by more ("hypotonic"
    and "hypertonic", "intracellular" and "intercellular")."""
    candidates = [w for w in known if len(w) >= RESPELL_MIN_LENGTH]
    if not candidates:
        return text
    cache = {}

    def replace(match):
        word = match.group(0)
        lower = word.lower()
        if lower in known or lower in STOPWORDS or \
                len(lower) < RESPELL_MIN_LENGTH:
            return word
        if lower not in cache:
            near = [c for c in candidates if _one_slip(lower, c)]
            cache[lower] = near[0] if len(near) == 1 else None
        found = cache[lower]
        if found is None:
            return word
        return found.capitalize() if word[:1].isupper() else found
    return _RESPELL_WORD.sub(replace, text)


def _one_slip(a, b):
    """Whether `a` and `b` differ by one edit: a letter dropped, added or
    changed, or two neighbouring letters swapped; not a letter added at
    the end, which makes another form of the word ("large" and "larger")."""
    if a == b or abs(len(a) - len(b)) > 1 or a.startswith(b) or \
            b.startswith(a):
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1:]
    return a[i + 1:] == b[i + 1:] or (
        i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and
        a[i + 2:] == b[i + 2:])


# -- Notes written as notation

#: Shorthand learners write in terse answers, and the words it stands for.
_SHORTHAND = (
    (re.compile(r"\s*(?:<->|<=>|\u2194|\u21d4)\s*"), ' is equivalent to '),
    # Not "|->": a ket.
    (re.compile(r"\s*(?:(?<!\|)->|=>|\u2192|\u21d2)\s*"), ' becomes '),
    (re.compile(r"\s*<-\s*"), ' is set to '),
    (re.compile(r"\s+=\s+|(?<=\w)=(?=\w)"), ' equals '),
    (re.compile(r"(?<![\w.])~\s*(?=\d)"), 'about '),
    (re.compile(r"\s+&\s+"), ' and '),
    (re.compile(r"\bw/o\b", re.IGNORECASE), 'without'),
    (re.compile(r"\bw/(?=\s)", re.IGNORECASE), 'with'),
    (re.compile(r"\bb/c\b", re.IGNORECASE), 'because'),
    (re.compile(r"\bvs\.?(?=\s)", re.IGNORECASE), 'versus'),
)
#: "Term: what it is" at the start of a sentence or after a semicolon: a
#: definition written as a note ("Recall: share of real positives found").
_NOTE_DEFINITION = re.compile(
    r"(^|[.;!?]\s+)([A-Z]?[\w'()-]+(?:\s+[\w'()-]+){0,3}):\s+(?=\w)")


def spell_out(text):
    """`text` with note-taking shorthand written out in words ("X: Y" as
    "X is Y", "->" as "becomes", "=" as "equals", "~5" as "about 5"), so
    that a terse answer reads as the sentences its meaning is compared
    with. A colon after a sentence's opening words ("There are two
    reasons: ...") is a sentence's colon, not a note's."""
    def definition(match):
        if match.group(2).split()[0].lower() in STOPWORDS:
            return match.group(0)
        return '%s%s is ' % (match.group(1), match.group(2))
    text = _NOTE_DEFINITION.sub(definition, text)
    for pattern, replacement in _SHORTHAND:
        text = pattern.sub(replacement, text)
    return text
