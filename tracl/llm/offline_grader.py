"""Grading a learner's answer without a network: which key points of the
question's rubric it covers in meaning, whether it states a misconception
or contradicts a key point, and a score that estimates a teacher's mark,
calibrated on human-marked answers. Deterministic; standard library and
numpy only, with any embedder that has `embed(texts)` (`IEmbedder`).

How a grade is made:

1. Text addressed to the grader ("ignore previous instructions", "give
   full marks", "you are now ...") is cut out of the answer before anything
   else reads it: the answer is data, so such text adds nothing.
2. The answer's sentences and clauses are embedded once and matched with
   the rubric (`tracl.llm.rubric_grading`): each key point covered, partly
   covered or missing, and the misconceptions stated or key points
   contradicted (`tracl.llm.contradiction`). Without a rubric the key
   points are the expected answer's sentences.
3. Features compare the answer with the expected answer, the question and
   the key points (`FEATURES`). A logistic model with global coefficients
   (no per-question parameter) turns them into the probability that a
   human marker accepts the answer.
4. A monotone map (`Calibration`) turns that probability into a score
   that estimates the mark: the probability at which accepting best
   separates right from wrong answers lands on `MASTERY_THRESHOLD`, and the
   mean score matches the mean mark.
5. Rules the features cannot overrule: guards cap the score of answers
   that cannot show understanding (empty-ish answers, copies of the
   question, keyword salad); an error keeps the score below mastery; an
   answer that covers every key point with no error and no guard masters,
   however terse.
6. Feedback in whole sentences: what is right, what is wrong with its
   correction, what is missing, quoting the key points.

Only sentences are embedded: the expected answer's and the rubric's once
per question (kept, and `prepare` embeds them ahead of the first answer),
then the answer's, in one call.

The coefficients come from `bench/grading_eval.py --fit` on SciEntsBank
(`data/scientsbank/train.csv`); the same script measures, by 5-fold
cross-validation grouped by question, how well they generalise to
questions they were not fitted on.
"""

import difflib
import math
import re
import threading
from collections import OrderedDict, namedtuple
from dataclasses import dataclass, field

import numpy as np

from tracl.llm import MASTERY_THRESHOLD, UNCERTAIN_MARGIN, Confidence
from tracl.llm import rubric_grading
from tracl.llm.text import (  # noqa: F401 (names this module always had)
    GENERIC_WORDS, LIST_WORDS, STOPWORDS, clauses, content_stems, is_content,
    normalise, respell, sentences, spell_out, stem, vocabulary, words)

#: Changes whenever a grade could change: features, coefficients, guards,
#: rubric matching. Past attempts keep the version they were graded with.
GRADER_VERSION = 'offline-grader-4'

#: The features the logistic model reads, in the order of its coefficients.
FEATURES = (
    # Mean over the expected answer's sentences of the best cosine with
    # one of the answer's sentences.
    'sentence_coverage',
    # Share of the expected answer's content stems that the question does
    # not give and the answer has.
    'key_term_coverage',
    # Share of the answer's content stems found in the expected answer.
    'answer_on_reference',
    # Share of the answer's words that are function words: structure.
    'function_word_share',
    # log((1 + answer content words) / (1 + expected content words)),
    # at most 0: shorter than expected costs, longer earns nothing.
    'relative_length',
)

# Fitted by `bench/grading_eval.py --fit` on all 4,969 answers of
# SciEntsBank train.csv (SemEval-2013 task 7, Dzikovska et al. 2013; built
# on SciEntsBank, Nielsen et al. 2008), L2 = 1 on standardised features.
INTERCEPT = -2.848
COEFFICIENTS = (1.851, 2.330, 0.861, 1.989, 0.846)

#: The monotone map from probability to score (`calibrate`): `decision`
#: is the probability put on `MASTERY_THRESHOLD`, `below` how fast the
#: score falls under it, `above` the power of the curve over it.
Calibration = namedtuple('Calibration', 'decision below above')
CALIBRATION = Calibration(0.3960, 7.572, 1.0)

#: Model probability at which an answer counts as right; mapped to
#: `MASTERY_THRESHOLD` on the score scale.
DECISION_PROBABILITY = CALIBRATION.decision

#: Highest score an answer with an error (a stated misconception, a
#: contradicted key point) keeps: below mastery, whatever else is right.
ERROR_CAP = 0.6

#: The guards, each with the highest score it leaves.
GUARD_CAPS = {'empty': 0.1, 'copy': 0.3, 'salad': 0.3}
#: Empty-ish: fewer content words than this, none of them a key term of
#: the expected answer that the question does not give. (Short right
#: answers exist: 35% of SciEntsBank's answers under 3 content words are
#: marked correct, "Celsius.", "It vibrates.".)
MIN_CONTENT_WORDS = 3
#: A copy of the question: it covers under this share of the key terms,
#: and its words match the question's (or a run of its sentences) this
#: much (difflib ratio), or this much with under this share of its content
#: stems new to the question. (On SciEntsBank, 16 answers, 19% marked
#: correct: answers that restate the question rightly stay clear of it.)
COPY_KEY_TERM_COVERAGE = 1 / 3.
COPY_OVERLAP = 0.75
COPY_OVERLAP_WITHOUT_NEW_WORDS = 0.6
COPY_NOVELTY = 0.2
#: Keyword salad: at least this many words and no function word but
#: those that join items of a list.
SALAD_MIN_WORDS = 3

#: Characters of an answer that are graded (the rest is ignored), so that
#: a very long text cannot hold a request up.
MAX_ANSWER_CHARS = 4000

#: Decimals a score keeps: clear misses lie close to 0 and keep their
#: order there (four decimals made hundreds of them tie at 0).
SCORE_DIGITS = 6

#: Questions whose expected answer and rubric embeddings are kept.
EXPECTED_CACHE_SIZE = 256

LogisticModel = namedtuple('LogisticModel', 'intercept coefficients')

#: The model the grader uses unless given another (the bench gives fold
#: models).
MODEL = LogisticModel(INTERCEPT, COEFFICIENTS)


@dataclass(frozen=True)
class GradeResult:
    """A grade: the score in [0, 1], feedback in plain sentences, and the
    features and guards that produced it (for audit)."""

    score: float
    feedback: str
    features: dict = field(default_factory=dict)
    rubric_version: str = GRADER_VERSION
    #: A `PointGrade` per key point, in the rubric's order.
    evidence: tuple = ()
    #: Stated misconceptions and contradicted key points (`Misconception`s).
    errors: tuple = ()
    #: How sure the verdict is (`tracl.llm.Confidence`).
    confidence: tuple = None

    @property
    def version(self):
        return self.rubric_version


# -- Words

def question_overlap(tokens, question):
    """How much the words `tokens` repeat the question's, in order: the
    best difflib ratio against the question or a run of its sentences."""
    if not tokens:
        return 0.0
    parts = [words(s) for s in sentences(question)]
    best = 0.0
    for first in range(len(parts)):
        run = []
        for part in parts[first:]:
            run = run + part
            best = max(best, difflib.SequenceMatcher(
                None, tokens, run, autojunk=False).ratio())
    return best


# -- Text addressed to the grader

#: Phrases addressed to the grader rather than answering: instructions,
#: claims about the grade or the grading, role play, chat roles. Matched
#: on `normalise`d text, so hidden characters and look-alike letters do
#: not hide them.
_INJECTION = re.compile(r"""
    \b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:(?:all|any|the|
        your|of|every)\s+)*(?:(?:previous|prior|above|earlier|preceding|
        original|grading|system|these|those|my|other)\s+)?(?:instructions?|
        prompts?|rules?|directions?|guidelines?|rubrics?|criteria|context|
        key\s+points|mistakes|errors)\b
  | \b(?:give|award|assign|grant)\s+(?:(?:me|this|it|my|the|student|
        learner|answer|response|a|an)\s+)*(?:full|maximum|max|perfect|top|
        highest|all\s+the|100\s*%?|10\s*/\s*10)\s+(?:marks?|points?|scores?|
        credit|grades?)\b
  | \b(?:give|award|assign|grant)\s+(?:(?:me|this|it|my|the|student|
        learner|answer|response|a|an)\s+)*(?:100\s*%|10\s*/\s*10)
  | \b(?:output|return|record|report|assign|award|give|set|put)\s+
        (?:\w+\s+){0,3}?(?:full|maximum|max|perfect|top|100\s*%?|
        10\s*/\s*10)\s+(?:marks?|points?|scores?|credit|grades?)\b
  | \b(?:output|return|record|report|assign|award|give|set|put)\s+
        (?:\w+\s+){0,3}?(?:score|grade|mark)\s+(?:of|to|as|at|=)\s*
        (?:1(?:\.0+)?|100\s*%?|10\s*/\s*10|full|perfect|maximum)\b
  | \b(?:mark|grade|score|rate|evaluate)\s+(?:this|my|the|it)\s+(?:(?:answer|
        response|reply)\s+)?as\s+(?:correct|right|perfect|mastered|full)\b
  | \b(?:treat|count|consider|regard|mark|grade|score|rate|evaluate)\s+
        (?:(?:this|my|the|it|every|all|each|of|key|points?|answer|response|
        reply)\s+)+as\s+(?:covered|correct|right|perfect|mastered|full|
        complete|excellent|fully\s+correct)\b
  | \bscore\s+(?:it|this|me|my\s+answer|the\s+answer)\s+(?:as\s+|at\s+|a\s+)?
        (?:\d|full|perfect|correct|high)
  | \b(?:must|should|shall|will|is\s+to)\s+be\s+(?:scored|graded|marked|
        rated|awarded)\b
  | \b(?:full|maximum|perfect)\s+(?:marks|score|points)\s+(?:please|now)\b
  | \b(?:score|grade|mark|rating|confidence|verdict|master(?:y|ed))\s*[:=]\s*
        (?:\d|true|yes|high|full|perfect|correct|pass|mastered)
  | \b(?:the\s+)?(?:correct|right|real|actual|final|true)\s+(?:score|grade|
        mark)\s+(?:for|of|is)\b
  | \b(?:deserves?|earns?|merits?|warrants?)\s+(?:an?\s+|the\s+)?(?:(?:perfect|
        full|top|maximum|max|highest)\s+(?:score|marks?|grade|points?|credit)
        |100\s*%)
  | \b(?:report|give|assign|set)\s+(?:a\s+)?(?:high|full|maximum|100\s*%)\s+
        confidence\b
  | \b(?:this|the|my)\s+(?:learner'?s?\s+|student'?s?\s+)?(?:answer|response|
        reply)\s+(?:above\s+|below\s+|here\s+)?(?:is|was|has\s+been|
        deserves|meets|covers|satisfies|fulfils|fulfills|earns)\s+
        (?:\w+\s+){0,3}?(?:correct|perfect|complete|excellent|verified|
        checked|approved|pre-?approved|full|every|all|mastery|mastered|
        an?\s+a)\b
  | \b(?:every|all|each)\s+(?:of\s+the\s+)?(?:key\s+points?|rubric\s+items?)
        \s+(?:(?:is|are|was|were|counts?|should\s+be|must\s+be|has\s+been|
        have\s+been|as|fully|marked|treated\s+as)\s+)*(?:covered|met|
        satisfied|present|correct|fulfill?ed)\b
  | \b(?:key\s+points?|rubric)\b[^.!?\n]{0,40}?\b(?:covered|satisfied|
        fulfill?ed|outdated|replaced|changed|updated|obsolete)\b
  | \b(?:grading|marking)\s+(?:rules?|criteria|instructions?|scheme|
        guidelines?|rubric|policy|mode)\b
  | \b(?:before|when|while)\s+(?:grading|marking|scoring|evaluating)\b
  | \b(?:note|message|instructions?|reminder|request)\s+(?:to|for)\s+
        (?:the\s+|any\s+|an?\s+)?(?:(?:automated|ai|human)\s+)?(?:grader|
        examiner|marker|evaluator|assessor|teacher|reviewer|ai|model|
        assistant|llm|chatbot)s?\b
  | \b(?:dear|hey|hi|hello|attention)\s*,?\s+(?:the\s+)?(?:grader|examiner|
        marker|evaluator|assessor|ai|assistant|llm|chatgpt|claude|gpt)\b
  | \bthe\s+(?:grader|examiner|marker|evaluator|assessor|assistant)\s+
        (?:should|must|shall|will|needs?\s+to|has\s+to|is\s+to|is\s+
        (?:instructed|required|told))\b
  | \b(?:automated|ai|llm)\s+(?:grader|grading|marker|examiner)\b
  | \bplease\s+be\s+(?:generous|lenient|kind|nice|gentle)\b
  | \b(?:generous|lenient)\s+(?:grader|grading|marking|marker|examiner)\b
  | \bdo\s+not\s+(?:report|mention|flag|penali[sz]e|deduct|list)\b
  | \b(?:print|show|reveal|repeat|output|list|tell\s+me)\s+(?:me\s+)?
        (?:\w+\s+){0,2}?(?:expected\s+answer|key\s+points|rubric|system\s+
        prompt|instructions|hidden\s+\w+)\b
  | \btranslate\s+(?:the\s+following|this)\b
  | \byou\s+are\s+now\s+(?:an?|the|my|in|acting|playing|dan)\b
  | \byou\s+are\s+(?:now\s+)?(?:an?|the|my)\s+(?:\w+\s+){0,3}?(?:grader|
        teacher|examiner|marker|evaluator|assessor|assistant|tutor|
        professor|judge|ai|bot|chatbot)\b
  | \bfrom\s+now\s+on,?\s+you\b
  | \blet'?s\s+play\s+a\s+(?:game|role)\b
  | \bstay\s+in\s+character\b
  | \brole-?\s*play\b
  | \b(?:developer|god|admin|override|evaluation-override|jailbreak)\s+mode\b
  | \bdo\s+anything\s+now\b
  | (?-i:\bDAN\b)
  | \b(?:system|developer|admin)\s+(?:prompt|message|notice|override|
        instructions?|note|mode)\b
  | \b(?:end|begin|start)\s+(?:of\s+)?(?:the\s+)?(?:override|instructions?|
        system\s+prompt)\b
  | \b(?:new|updated|real|actual|revised)\s+(?:instructions?|rubric)\b
  | \bact\s+as\s+(?:an?\s+|the\s+|my\s+)?(?:grader|teacher|examiner|marker|
        assistant|ai)\b
  | \bpretend\s+(?:to\s+be|you\s+are)\b
  | \bas\s+an?\s+(?:ai|language\s+model|grader)\b
  | \bas\s+(?:the|an?|your)\s+(?:course'?s?\s+)?(?:developer|admin|
        administrator|teacher|instructor|examiner|professor|teaching\s+
        assistant|moderator)\b
  | \bI\s+(?:hereby\s+)?(?:confirm|certify|attest)\b
  | \bpre-?approved\b
  | \b(?:already\s+)?(?:been\s+)?(?:checked|graded|marked|approved|verified)
        \s+by\s+(?:the|a|my|your)\s+(?:teacher|instructor|examiner|professor|
        grader|tutor)\b
  | \bjailbreak\b
  | </?\s*(?:system|instructions?|prompt)\s*>
  | \[\s*/?\s*(?:system|inst|assistant|user|developer)\b[^\]]*\]
  | <<\s*/?\s*sys\s*>>
  | ^\W*(?:system|assistant|developer)\s*:
""", re.IGNORECASE | re.VERBOSE)

#: A chat role or the grader named at the start of a line or sentence
#: ("SYSTEM:", "Assistant:", "Grader:"): what follows on that line is a
#: turn of a made-up conversation, not the answer.
_ROLE = re.compile(r"""
    (?:^|(?<=[.!?])[ \t]+)[ \t*_#>|-]*(?:system|assistant|developer|user|
    grader|examiner|evaluator|ai\s+grader|ai)\s*(?:\*\*)?\s*:.*$""",
    re.IGNORECASE | re.VERBOSE | re.MULTILINE)

#: The answer's own tags: in an answer, one that closes it starts text
#: that poses as the rest of the prompt, up to one that opens it again.
_ANSWER_TAGS = r'learner_answer|answer'
#: Tags naming another part of a grading prompt, a chat role or a tool
#: call: in an answer they open text that poses as that part.
_PROMPT_TAGS = (r'question|expected_answer|rubric|context|source_text|'
                r'concept|learner_query|system|user|assistant|developer|'
                r'human|instructions?|prompt|tool_calls?|tool_use|'
                r'tool_result|function_calls?|function_results?|invoke|'
                r'parameter|inst|sys|grade|score|evaluation|feedback|'
                r'verdict')
#: HTML elements, whose tags are markup rather than words.
_HTML_TAGS = (r'a|abbr|audio|b|big|blockquote|body|br|button|caption|center|'
              r'code|col|dd|del|details|div|dl|dt|em|embed|font|footer|form|'
              r'h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|label|'
              r'li|link|main|mark|math|meta|nav|noscript|object|ol|p|pre|q|s|'
              r'samp|script|section|select|small|source|span|strike|strong|'
              r'style|sub|summary|sup|svg|table|tbody|td|template|textarea|'
              r'tfoot|th|thead|title|tr|tt|u|ul|var|video')
_ATTRIBUTES = r'''(?:\s+[\w:-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]+))?)*'''
#: Markup whose content is not the answer: prompt parts with what they
#: enclose, text after the answer's closing tag up to its reopening,
#: scripts, elements styled out of sight, comments; and the answer's own
#: tags, whose content is the answer.
_HIDDEN_ELEMENT = re.compile(r"""
    <\s*(%(prompt)s|script|style|template|noscript|iframe|object)\b[^<>]*>
        .*?(?:<\s*/\s*\1\s*>|\Z)
  | <\s*/\s*(%(answer)s|%(prompt)s)\s*>.*?(?:<\s*\2\b[^<>]*>|\Z)
  | <\s*(\w+)\b[^<>]*(?:\bhidden\b|display\s*:\s*none|
        visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0)[^<>]*>
        .*?(?:<\s*/\s*\3\s*>|\Z)
  | <!--.*?(?:-->|\Z)
  | <\s*/?\s*(?:%(answer)s)\b[^<>]*>
""" % {'answer': _ANSWER_TAGS, 'prompt': _PROMPT_TAGS},
                             re.IGNORECASE | re.VERBOSE | re.DOTALL)
_HTML_TAG = re.compile(r'<\s*/?\s*(?:%s)\b%s\s*/?\s*>' % (_HTML_TAGS,
                                                         _ATTRIBUTES),
                       re.IGNORECASE)
#: A call with named arguments, as a tool call is written:
#: `record_evaluation(score=1.0, feedback="...")`.
_CALL = re.compile(r"\b[A-Za-z_][\w.]*\s*\(\s*[A-Za-z_]\w*\s*=(?!=)"
                   r"[^()]*(?:\([^()]*\)[^()]*)*\)")
_JSON_KEY = re.compile(r"""["']\s*[A-Za-z_][\w\s-]{0,40}["']\s*:""")
_FENCE = re.compile(r'^[ \t]*(?:```|~~~)[\w-]*[ \t]*$', re.MULTILINE)
_TABLE_ROW = re.compile(r'^[ \t]*\|.*\|[ \t]*$', re.MULTILINE)
_GRADING_WORDS = re.compile(r'\b(?:key\s+points?|criteri(?:on|a)|status|'
                            r'scores?|grades?|marks?|rubric|covered|met|'
                            r'pass(?:ed)?|mastered)\b', re.IGNORECASE)
_HEADING = re.compile(r'^[ \t]*(?:#{1,6}[ \t]+|\*\*)(.*)$', re.MULTILINE)
_BLANK_LINE = re.compile(r'\n[ \t]*\n')
_BRACKETS = re.compile(r'\[\[[^\[\]]*\]\]|\[[^\[\]]*\]|\([^()]*\)')
#: A label ending with a colon just before what is cut ("Expected output:")
#: is cut with it.
_LABEL = re.compile(r"(?:^|(?<=[.!?;\n]))[^.!?;\n:]{0,60}:[ \t]*\Z")

#: A keyword salad inside an answer: this many words or more in a row
#: with nothing between them but spaces and no function word (a
#: sentence does not run so long on content words alone: the longest
#: such run in SciEntsBank and the starter answers is 7 words), or this
#: many items of a list with no function word.
SALAD_RUN_WORDS = 8
SALAD_LIST_ITEMS = 8


def remove_instructions(answer):
    """`answer` as the learner's answer to the question, without what is
    not: text addressed to the grader, and text that only inflates the
    answer. Returns (text, removed?), removed? true when something was
    addressed to the grader.

    Addressed to the grader: prompt-like markup (tags that close the
    answer's tag or open another part of the prompt, with what they
    enclose; hidden HTML elements and comments; fake grades written as
    JSON, tool calls or tables), turns of a made-up chat ("SYSTEM: ...",
    to the end of its line), bracketed asides that hold an instruction,
    headings over instructions (with their section), and in each
    sentence, from the first phrase addressed to the grader
    (`_INJECTION`) to its end. Hidden characters and look-alike letters
    are read through first (`normalise`).

    Inflating the answer: runs of keywords without a function word
    (a salad of the rubric's words) inside an answer that has sentences,
    sentences of function words only that say nothing, and repeated
    sentences."""
    text = normalise(answer)
    text, removed = _remove_markup(text)
    kept = []
    for sentence in sentences(text):
        match = _INJECTION.search(sentence)
        if match:
            removed = True
            sentence = _lead_in(sentence[:match.start()])
        if sentence:
            kept.append(sentence)
    return ' '.join(_without_padding(kept)), removed


_TRAILING_WORD = re.compile(r"[\w']+[^\w']*\Z")
#: Words that may begin a clause addressed to the grader, left dangling
#: when it is cut: function words, politeness, and the adjectives of
#: "the previous rubric".
_LEAD_IN_WORDS = STOPWORDS | frozenset(
    'please kindly now important note ps nb previous prior earlier '
    'preceding original following new updated revised real actual'.split())


def _lead_in(text):
    """What of `text`, the start of a sentence whose end was addressed to
    the grader, is the learner's: without the function words that began
    the cut clause ("... and the"), and nothing if what is left only
    labels it ("IMPORTANT:")."""
    text = text.rstrip()
    while True:
        match = _TRAILING_WORD.search(text)
        if not match or match.group(0).strip(' ,;:-"\'').lower() not in \
                _LEAD_IN_WORDS:
            break
        text = text[:match.start()].rstrip()
    if text.endswith(':') or not words(text):
        return ''
    return text.strip(' ,;:-')


def _remove_markup(text):
    """`text` without the markup and fake grades it holds, and whether
    any of it was addressed to the grader."""
    original = text
    text = _cut(text, _HIDDEN_ELEMENT)
    text = _cut(text, _CALL)
    text = _cut_json(text)
    text = _cut(text, _ROLE, label=False)
    text = _cut_tables(text)
    text = _cut_sections(text)
    text = _BRACKETS.sub(
        lambda m: ' ' if _INJECTION.search(m.group(0)) else m.group(0), text)
    removed = text != original
    text = _HTML_TAG.sub(' ', text)
    return _FENCE.sub('', text), removed


def _cut(text, pattern, label=True):
    """`text` without the matches of `pattern`, each with the label just
    before it (`_LABEL`) when `label`; a cut becomes a line break."""
    pieces, end = [], 0
    for match in pattern.finditer(text):
        before = text[end:match.start()]
        if label:
            before = _LABEL.sub('', before)
        pieces.extend((before, '\n'))
        end = match.end()
    pieces.append(text[end:])
    return ''.join(pieces)


def _cut_json(text):
    """`text` without objects written in braces that have quoted keys
    (`{"score": 1.0}`), each with the label before it; an object left
    open runs to the end."""
    pieces, end = [], 0
    for start, close in _braced(text):
        if _JSON_KEY.search(text, start, close):
            pieces.extend((_LABEL.sub('', text[end:start]), '\n'))
            end = close
    pieces.append(text[end:])
    return ''.join(pieces)


def _braced(text):
    """The (start, end) of each outermost span of `text` in braces, in one
    pass; quoted text inside braces is skipped, and a brace left open
    runs to the end of `text`."""
    depth, quote, escaped, start = 0, None, False, 0
    for i, c in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif c == '\\':
                escaped = True
            elif c == quote:
                quote = None
        elif c == '{':
            if not depth:
                start = i
            depth += 1
        elif depth and c == '"':
            quote = c
        elif depth and c == '}':
            depth -= 1
            if not depth:
                yield start, i + 1
    if depth:
        yield start, len(text)


def _cut_tables(text):
    """`text` without markdown tables that grade (their cells name key
    points, criteria, statuses or scores); other tables stay."""
    rows = list(_TABLE_ROW.finditer(text))
    tables, table = [], []
    for row in rows:
        if table and text[table[-1].end():row.start()].strip():
            tables.append(table)
            table = []
        table.append(row)
    if table:
        tables.append(table)
    for table in reversed(tables):
        start, end = table[0].start(), table[-1].end()
        if len(table) > 1 and _GRADING_WORDS.search(text, start, end):
            text = text[:start] + '\n' + text[end:]
    return text


def _cut_sections(text):
    """`text` without headings addressed to the grader, each with its
    section (up to the next heading or blank line)."""
    headings = list(_HEADING.finditer(text))
    for i in reversed(range(len(headings))):
        if _INJECTION.search(headings[i].group(1)):
            end = headings[i + 1].start() if i + 1 < len(headings) \
                else len(text)
            blank = _BLANK_LINE.search(text, headings[i].end(), end)
            if blank:
                end = blank.start()
            text = text[:headings[i].start()] + '\n' + text[end:]
    return text


def _without_padding(kept):
    """The sentences of `kept` that say something once: keyword salads
    cut out of sentences (unless the whole answer is one, which the salad
    guard grades), sentences that say nothing (`_says_nothing`) dropped,
    and repeated sentences dropped."""
    trimmed = [_without_salad(s) for s in kept]
    if any(trimmed):
        kept = [s for s in trimmed if s]
    seen, out = set(), []
    for sentence in kept:
        tokens = tuple(words(sentence))
        if tokens in seen or _says_nothing(tokens):
            continue
        seen.add(tokens)
        out.append(sentence)
    return out or kept[:1]


#: A sentence of this many words or more with no content word, no verdict
#: and no negation says nothing ("And that is how it is for all of us.");
#: a shorter one may answer ("No, you cannot.").
PADDING_WORDS = 4
_VERDICT_WORDS = frozenset(
    "yes no not nor neither never cannot can't don't doesn't didn't isn't "
    "aren't wasn't weren't won't wouldn't shouldn't couldn't hasn't "
    "haven't hadn't".split())


def _says_nothing(tokens):
    return len(tokens) >= PADDING_WORDS and not any(
        is_content(t) or t in _VERDICT_WORDS for t in tokens)


_BARE_RUN = re.compile(r"[\w'-]+(?:[ \t]+[\w'-]+)*")
_LIST_ITEM = re.compile(r"[,;]")


def _without_salad(sentence):
    """`sentence` without its keyword salads (`SALAD_RUN_WORDS`,
    `SALAD_LIST_ITEMS`): '' when nothing else is left."""
    if not any(t in STOPWORDS and t not in LIST_WORDS
               for t in words(sentence)) and \
            len([i for i in _LIST_ITEM.split(sentence) if words(i)]) >= \
            SALAD_LIST_ITEMS:
        return ''

    def run(match):
        run_tokens = words(match.group(0))
        if len(run_tokens) >= SALAD_RUN_WORDS and \
                not any(t in STOPWORDS for t in run_tokens):
            return ' '
        return match.group(0)
    trimmed = _BARE_RUN.sub(run, sentence)
    if trimmed == sentence:
        return sentence
    trimmed = trimmed.strip(' ,;:-')
    return trimmed if words(trimmed) else ''


# -- The grader

class OfflineGrader(object):
    """Grades answers against expected answers and rubrics with an
    embedder.

    `embedder` is anything with `embed(texts)` returning unit rows
    (`IEmbedder`); `model` and `calibration` default to the fitted
    `MODEL` and `CALIBRATION`."""

    def __init__(self, embedder, model=MODEL, calibration=None):
        self.embedder = embedder
        self.model = model
        self.calibration = calibration or CALIBRATION
        self._references = OrderedDict()
        self._lock = threading.Lock()

    def grade(self, question, expected_answer, answer, rubric=None,
              margin=UNCERTAIN_MARGIN):
        """A `GradeResult` of `answer` to `question`, against `rubric` (a
        `tracl.model.rubrics.Rubric`) when given, else against key points
        derived from `expected_answer`; a score within `margin` of the
        mastery threshold is a close call."""
        features, evidence, errors = self.analyse(
            question, expected_answer, answer, rubric)
        probability = self.probability(features)
        score = self.score(features, probability, self.calibration)
        features['probability'] = round(probability, 4)
        return GradeResult(score, self.feedback(features, evidence, errors,
                                                score, rubric),
                           features, GRADER_VERSION, evidence, errors,
                           confidence(features, evidence, score,
                                      probability >=
                                      self.calibration.decision, margin))

    def analyse(self, question, expected_answer, answer, rubric=None):
        """The features and guard flags of `answer` (a dict), the evidence
        (a `PointGrade` per key point) and the errors (`Misconception`s)."""
        if not words(expected_answer):
            raise ValueError("An answer can only be graded against an "
                             "expected answer with words in it.")
        text, injected = remove_instructions((answer or '')[:MAX_ANSWER_CHARS])
        text = spell_out(respell(text, self._vocabulary(
            question, expected_answer, rubric)))
        tokens = words(text)
        answer_stems = set(content_stems(tokens))
        question_stems = set(content_stems(words(question)))
        expected_tokens = words(expected_answer)
        expected_stems = list(dict.fromkeys(content_stems(expected_tokens)))
        new_stems = [s for s in expected_stems
                     if s not in question_stems] or expected_stems
        n_content = sum(1 for t in tokens if is_content(t))
        ref, expected_vectors, ref_vectors = self._reference(
            expected_answer, rubric)
        answer_sentences = sentences(text)
        pieces = answer_sentences + [c for s in answer_sentences
                                     for c in clauses(s)]
        piece_vectors = np.asarray(self.embedder.embed(pieces),
                                   dtype=np.float32) if pieces else \
            np.zeros((0, expected_vectors.shape[1]), dtype=np.float32)
        sentence_vectors = piece_vectors[:len(answer_sentences)]
        evidence, errors, best = rubric_grading.match(
            ref, ref_vectors, pieces, piece_vectors, question_stems)
        features = {
            'sentence_coverage': float(
                (expected_vectors @ sentence_vectors.T).max(1).mean())
            if len(answer_sentences) else 0.0,
            'key_term_coverage': _share(new_stems, answer_stems),
            'answer_on_reference': _share(answer_stems, set(expected_stems)),
            'function_word_share':
                (len(tokens) - n_content) / max(len(tokens), 1),
            'relative_length': min(0.0, math.log(
                (1 + n_content) / (1 + len(content_stems(expected_tokens))))),
            'point_coverage': rubric_grading.point_coverage(evidence),
            'all_points_covered': bool(evidence) and all(
                g.status == rubric_grading.COVERED for g in evidence),
            'errors': len(errors),
            'points_covered': sum(1 for g in evidence
                                  if g.status == rubric_grading.COVERED),
            'missing_share': sum(1 for g in evidence
                                 if g.status == rubric_grading.MISSING)
            / max(len(evidence), 1),
            'weakest_point': min(best) if best else 0.0,
            'novelty': _share(answer_stems, answer_stems - question_stems),
            'question_overlap': question_overlap(tokens, question),
            'content_words': n_content,
            'instructions_removed': injected,
        }
        if rubric is not None and rubric.key_points and \
                not features['missing_share']:
            # An answer that speaks to every key point of the question's
            # rubric is short of nothing, however terse: its length is no
            # evidence against it (the length feature was fitted on
            # answers to one-sentence references, without rubrics).
            features['relative_length'] = 0.0
        features['guards'] = self._guards(features, tokens, answer_stems,
                                          set(new_stems))
        return {k: round(v, 4) if isinstance(v, float) else v
                for k, v in features.items()}, evidence, errors

    def prepare(self, expected_answer, rubric=None):
        """Embed `expected_answer` and `rubric` ahead of the first answer
        (when the question is written, say): grading then embeds the
        answer only."""
        self._reference(expected_answer, rubric)

    def probability(self, features):
        """The model's probability that a human marker accepts the answer."""
        z = self.model.intercept + sum(
            w * features[name]
            for name, w in zip(FEATURES, self.model.coefficients))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @staticmethod
    def score(features, probability, calibration=None):
        """The calibrated score of `probability`, then the rules: every
        key point covered without error or guard masters; an error keeps
        the score below mastery; each guard that holds scales it down into
        [0, cap] (so guarded answers keep their order among themselves)."""
        score = calibrate(probability, calibration)
        if features['all_points_covered'] and not features['errors'] and \
                not features['guards']:
            score = max(score, MASTERY_THRESHOLD)
        if features['errors']:
            score = min(score, ERROR_CAP)

        for guard in features['guards']:
            score *= GUARD_CAPS[guard]
        if not features['content_words']:
            score = 0.0
        return round(score, SCORE_DIGITS)

    # Internal methods

    def _reference(self, expected_answer, rubric):
        """The key points and misconceptions of the question, the
        embeddings of the expected answer's sentences and of the rubric's
        texts: embedded together in one call (so always alike) and kept
        for the next answers to the same question."""
        ref = rubric_grading.reference(expected_answer, rubric)
        key = (expected_answer, ref)
        with self._lock:
            cached = self._references.get(key)
            if cached is not None:
                self._references.move_to_end(key)
                return cached
        expected = sentences(expected_answer)
        vectors = np.asarray(self.embedder.embed(
            expected + rubric_grading.reference_texts(ref)), dtype=np.float32)
        cached = (ref, vectors[:len(expected)], vectors[len(expected):])
        with self._lock:
            self._references[key] = cached
            while len(self._references) > EXPECTED_CACHE_SIZE:
                self._references.popitem(last=False)
        return cached

    @staticmethod
    def _vocabulary(question, expected_answer, rubric):
        texts = [question, expected_answer]
        if rubric is not None:
            texts.extend(k.point for k in rubric.key_points)
            for m in rubric.misconceptions or ():
                texts.extend((m.claim, m.correction))
        return vocabulary(*texts)

    @staticmethod
    def _guards(features, tokens, answer_stems, new_stems):
        guards = []
        if features['content_words'] < MIN_CONTENT_WORDS and \
                not answer_stems & new_stems:
            guards.append('empty')
        overlap = features['question_overlap']
        if features['key_term_coverage'] < COPY_KEY_TERM_COVERAGE and (
                overlap >= COPY_OVERLAP or (
                    overlap >= COPY_OVERLAP_WITHOUT_NEW_WORDS and
                    features['novelty'] < COPY_NOVELTY)):
            guards.append('copy')
        if len(tokens) >= SALAD_MIN_WORDS and all(
                is_content(t) or t in LIST_WORDS for t in tokens):
            guards.append('salad')
        return guards

    @staticmethod
    def feedback(features, evidence, errors, score, rubric=None):
        """Whole sentences: what the guards found, what the answer has
        right, what is wrong and what is missing."""
        guards = features['guards']
        lines = []
        if features['instructions_removed']:
            lines.append("Instructions addressed to the grader were ignored; "
                         "only the answer itself is graded.")
        if 'empty' in guards:
            lines.append("The answer is too short to show understanding: "
                         "explain the idea in a full sentence or two.")
        if 'copy' in guards:
            lines.append("The answer mostly repeats the question; say what "
                         "the answer to it is.")
        if 'salad' in guards:
            lines.append("The answer lists terms without saying how they "
                         "relate; write them into sentences that explain.")
        mastered = score >= MASTERY_THRESHOLD
        misconceptions = tuple(rubric.misconceptions) if rubric else ()
        lines.extend(rubric_grading.feedback_sentences(
            evidence, errors, mastered, misconceptions))
        if mastered:
            lines.append("This answer shows mastery.")
        elif errors:
            lines.append("Correct what is wrong before this concept counts "
                         "as mastered.")
        return ' '.join(lines)


def confidence(features, evidence, score, model_accepts,
               margin=UNCERTAIN_MARGIN):
    """How sure the verdict `score` is, as a `Confidence`: from how far
    the score lies from the mastery threshold and whether the judgements
    behind it agree (the key points against the verdict, the word-level
    model against the rules that overrule it).

    - Guards and errors are rules: a refusal they make is sure when the
      model would have refused too.
    - A mastery with a key point missing, or a refusal with every key
      point at least partly given and no error, is a verdict the key
      points argue against.
    - A score within `margin` of the threshold is a close call: low when
      the key points argue against the verdict, medium when they agree."""
    mastered = score >= MASTERY_THRESHOLD
    if features['guards'] or not features['content_words']:
        return Confidence('high', "The answer cannot show understanding: "
                                  "it is too short, repeats the question or "
                                  "lists terms.")
    missing = any(g.status == rubric_grading.MISSING for g in evidence)
    if features['errors']:
        if model_accepts:
            return Confidence('medium', "An error keeps the answer below "
                                        "mastery, though the rest of it "
                                        "reads like a good answer.")
        return Confidence('high', "The answer states something wrong.")
    against = missing if mastered else (bool(evidence) and not missing)
    near = abs(score - MASTERY_THRESHOLD) < margin
    if near and against:
        return Confidence('low', "A close call: the score is near the "
                                 "mastery threshold and the key points "
                                 "argue the other way.")
    if near:
        return Confidence('medium', "A close call: the score is near the "
                                    "mastery threshold.")
    if against:
        return Confidence('medium', "The score is clear, but %s." % (
            "a key point seems to be missing" if mastered else
            "every key point is at least partly there"))
    return Confidence('high', "The score is far from the mastery threshold "
                              "and the key points agree.")


def calibrate(probability, calibration=None):
    """Map the model's probability onto the score scale, monotone, with
    the calibration's decision probability on `MASTERY_THRESHOLD`. Below
    it the score falls exponentially in log-odds
    (`threshold * exp(-below * (logit(decision) - logit(p)))`: clear
    misses go towards 0 yet keep their order, so the mean score can match
    the mean mark without ties at 0); above it, a power curve up to 1."""
    decision, below, above = calibration or CALIBRATION
    p, m = min(1.0, max(0.0, probability)), MASTERY_THRESHOLD
    if p <= 0.0:
        return 0.0
    if p <= decision:
        return m * math.exp(-below * (_logit(decision) - _logit(p)))
    return m + (1 - m) * ((p - decision) / (1 - decision)) ** above


def _logit(p):
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _share(items, found):
    items = list(items)
    if not items:
        return 0.0
    return sum(1 for item in items if item in found) / len(items)
