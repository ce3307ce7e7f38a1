"""Corpus files: reading chunks from JSON Lines and deciding which to keep.

A corpus is one JSON object per line, each a chunk with the fields of the
`chunks` table (`id`, `subject`, `concept`, `content`, `has_prerequisite`,
`prerequisite_for`, `difficulty_level`, `source`). The rules of one chunk
live in `tracl.model.chunks`; this module owns the rules of a set of
chunks, checked before anything stores them: the starter corpus shipped in
`tracl/data/corpus/` is checked against them by the tests, and
`trac-admin ENV learning import` applies them to an admin's own file.

What is checked, and what a failure does:

- per chunk (`tracl.model.chunks.chunk_problems`): required fields present
  and non-empty, every field of the right JSON type, lengths within the
  database columns and the word bounds, `difficulty_level` an integer 1-5,
  no concept listing itself as its own prerequisite;
- across chunks: no duplicate id and no duplicate concept name within a
  subject (in both cases the later chunk is rejected);
- the prerequisite graph of each subject: every `has_prerequisite` name must be
  a concept of the same subject, and the links must not form a cycle.

A problem rejects only the chunks involved, so an import keeps the rest:
the chunk whose prerequisite is unknown, every chunk on a cycle, and then,
in turn, every chunk whose prerequisite was itself rejected (its link could
not be stored, and a chunk stored without it would unlock too early).

`prerequisite_for` is the inverse view of the same links: links are taken
from `has_prerequisite` alone (the database stores each link once), so a
`prerequisite_for` that disagrees with it is reported as a warning and never
rejects a chunk.
"""

import difflib
import json
import os
from collections import Counter, namedtuple
from importlib import resources

from tracl.model.chunks import chunk_problems, json_type, prerequisite_names
from tracl.model.rubrics import question_problems

#: The word bounds of the starter corpus, whose chunks were written to them.
STARTER_MIN_WORDS = 100
STARTER_MAX_WORDS = 300

#: The longest chunk an admin's import accepts, in words: a chunk should
#: hold one concept, and a longer one gives a question and its grading
#: more than one to be about.
SPEC_MAX_WORDS = 500

#: Where the starter corpus lives: a folder of the package `tracl.data`.
STARTER_PACKAGE = 'tracl.data'
STARTER_FOLDER = 'corpus'

#: The starter questions with their rubrics: a folder beside the corpus,
#: one file per subject named as its corpus file, one question per line.
STARTER_QUESTIONS_FOLDER = 'questions'
STARTER_SOURCE_PREFIX = 'TracLearn starter corpus'


class CorpusError(ValueError):
    """A corpus file cannot be read, or its prerequisites form a cycle."""


#: One problem: `where` is the chunk id (or `line N of FILE`, `item N` when
#: the chunk has no usable id); `message` is a sentence naming the chunk.
Problem = namedtuple('Problem', ['where', 'message'])


class CorpusReport(namedtuple('CorpusReport',
                              ['valid', 'rejected', 'warnings'])):
    """The outcome of a validation.

    `valid` holds the accepted chunks, normalised (every field of `FIELDS`,
    defaults filled in, names stripped), in input order. `rejected` holds one
    `Problem` per rejected chunk (unreadable lines and field problems in
    input order, then the prerequisite graph's), and `warnings` the problems
    that reject nothing.
    """
    __slots__ = ()

    @property
    def ok(self):
        """True when no chunk was rejected."""
        return not self.rejected

    @property
    def rejected_where(self):
        """The ids (or locations) of the rejected chunks."""
        return [problem.where for problem in self.rejected]


# Reading ------------------------------------------------------------------

def _open_lines(source):
    """Return `(label, lines)` for a path, a package resource or lines."""
    if isinstance(source, (str, os.PathLike)):
        return (os.path.basename(os.fspath(source)),
                open(source, encoding='utf-8-sig'))
    if hasattr(source, 'is_file') and hasattr(source, 'open'):
        return source.name, source.open(encoding='utf-8-sig')
    name = getattr(source, 'name', None)
    return (os.path.basename(name) if isinstance(name, str) else None,
            source)


def _parse_lines(source):
    """Yield `(number, location, obj, error)` for every non-blank line of
    `source`; exactly one of `obj` and `error` is set."""
    label, lines = _open_lines(source)
    try:
        for number, line in enumerate(lines, 1):
            if isinstance(line, bytes):
                line = line.decode('utf-8-sig')
            if not line.strip():
                continue
            where = ('line %d of %s' % (number, label) if label
                     else 'line %d' % number)
            try:
                obj = json.loads(line)
            except ValueError as e:
                yield number, where, None, (
                    '%s is not valid JSON (%s); each line must be one chunk '
                    'object' % (where, e))
                continue
            if not isinstance(obj, dict):
                yield number, where, None, (
                    '%s is a JSON %s, not an object; each line must be one '
                    'chunk object' % (where, json_type(obj)))
                continue
            yield number, where, obj, None
    finally:
        if lines is not source:
            lines.close()


def read_jsonl(path_or_lines):
    """Yield `(line_number, chunk_dict)` for each line of a JSON Lines corpus.

    `path_or_lines` is a file path, an `importlib.resources` file, an open
    file or any iterable of lines. Blank lines are skipped. A line that is
    not a JSON object raises `CorpusError` naming the line.
    """
    for number, _, obj, error in _parse_lines(path_or_lines):
        if error:
            raise CorpusError(error)
        yield number, obj


# Validation ---------------------------------------------------------------

def validate_chunks(chunks, min_words=STARTER_MIN_WORDS,
                    max_words=STARTER_MAX_WORDS):
    """Check chunk dicts against the corpus rules; return a `CorpusReport`.

    A chunk that is not a dict is rejected, located as `item N`.
    """
    return _validate([('item %d' % n, chunk)
                      for n, chunk in enumerate(chunks, 1)], [],
                     min_words, max_words)


def validate_jsonl(path_or_lines, min_words=STARTER_MIN_WORDS,
                   max_words=STARTER_MAX_WORDS):
    """Read and check a JSON Lines corpus; return a `CorpusReport`.

    Unlike `read_jsonl`, a line that is not a JSON object does not stop the
    reading: it is rejected with its line number and the rest is checked.
    """
    items, rejected = [], []
    for _, where, obj, error in _parse_lines(path_or_lines):
        if error:
            rejected.append(Problem(where, error))
        else:
            items.append((where, obj))
    return _validate(items, rejected, min_words, max_words)


def _validate(items, rejected, min_words, max_words):
    if not 0 < min_words <= max_words:
        raise ValueError('word bounds must satisfy 0 < min_words <= '
                         'max_words, not %r and %r' % (min_words, max_words))
    warnings = []
    candidates = []           # normalised chunks that pass the field checks
    first_by_id = {}          # id -> location of its first chunk
    first_by_concept = {}     # (subject, concept) -> 'chunk ID' of the first
    for where, raw in items:
        chunk, problems, notes = chunk_problems(raw, where, min_words,
                                                max_words)
        raw_id = raw.get('id') if isinstance(raw, dict) else None
        warnings.extend(Problem(raw_id or where, note) for note in notes)
        chunk_id = chunk.get('id')
        name = 'chunk %s' % chunk_id if chunk_id else where
        unique_id = chunk_id and chunk_id not in first_by_id
        if unique_id:
            first_by_id[chunk_id] = where
        elif chunk_id:
            problems.insert(0, 'id %r is already used by an earlier chunk '
                               '(%s); ids must be unique'
                            % (chunk_id, first_by_id[chunk_id]))
            name = 'chunk %s (%s)' % (chunk_id, where)
        key = (chunk.get('subject'), chunk.get('concept'))
        if unique_id and all(key):
            if key in first_by_concept:
                problems.append('concept %r already exists in subject %r '
                                '(%s); a concept name must be unique within '
                                'its subject'
                                % (key[1], key[0], first_by_concept[key]))
            else:
                first_by_concept[key] = 'chunk %s' % chunk_id
        if problems:
            rejected.append(Problem(chunk_id or where,
                                    '%s: %s' % (name, '; '.join(problems))))
        else:
            candidates.append(chunk)
    accepted = _check_graph(candidates, first_by_concept, rejected)
    warnings.extend(_inverse_link_warnings(accepted))
    return CorpusReport(accepted, rejected, warnings)


def _check_graph(candidates, first_by_concept, rejected):
    """Reject chunks with unknown prerequisites or on cycles, then chunks
    whose prerequisite was rejected; return the accepted chunks in order."""
    accepted = {chunk['id']: chunk for chunk in candidates}
    subjects_of = {}
    for subject, concept in first_by_concept:
        subjects_of.setdefault(concept, set()).add(subject)
    _reject_dangling(accepted, first_by_concept, subjects_of, rejected)
    for cycle_members in _cycles(list(accepted.values())):
        for chunk, cycle in cycle_members:
            del accepted[chunk['id']]
            rejected.append(Problem(chunk['id'], (
                'chunk %s: concept %r is on a prerequisite cycle in subject '
                '%r: %s; remove one of these links'
                % (chunk['id'], chunk['concept'], chunk['subject'],
                   ' needs '.join(map(repr, cycle))))))
    _reject_dangling(accepted, first_by_concept, subjects_of, rejected)
    return [chunk for chunk in candidates if chunk['id'] in accepted]


def _reject_dangling(accepted, first_by_concept, subjects_of, rejected):
    """Reject, until none is left, accepted chunks naming a prerequisite that
    is not an accepted concept of their subject."""
    changed = True
    while changed:
        changed = False
        known = _concepts_by_subject(accepted.values())
        for chunk in list(accepted.values()):
            subject = chunk['subject']
            for name in prerequisite_names(chunk['has_prerequisite']):
                if name in known.get(subject, {}):
                    continue
                reason = _unknown_reason(name, subject, known,
                                         first_by_concept, subjects_of)
                rejected.append(Problem(chunk['id'], 'chunk %s: prerequisite '
                                        '%r %s' % (chunk['id'], name, reason)))
                del accepted[chunk['id']]
                changed = True
                break


def _unknown_reason(name, subject, known, first_by_concept, subjects_of):
    if (subject, name) in first_by_concept:
        owner = first_by_concept[(subject, name)]
        return ('is %s, which was rejected; fix %s first'
                % (owner, owner))
    reason = 'is not a concept of subject %r' % subject
    close = difflib.get_close_matches(name, known.get(subject, {}), n=1)
    if close:
        return reason + ' (did you mean %r?)' % close[0]
    elsewhere = sorted(subjects_of.get(name, ()))
    if elsewhere:
        return reason + (' (it is a concept of %s; prerequisites resolve '
                         'within a subject)' % ', '.join(map(repr, elsewhere)))
    return reason


def _concepts_by_subject(chunks):
    """`{subject: {concept: chunk}}`."""
    known = {}
    for chunk in chunks:
        known.setdefault(chunk['subject'], {})[chunk['concept']] = chunk
    return known


def _cycles(chunks):
    """Yield, for each strongly connected component of a subject's
    `has_prerequisite` graph that holds a cycle, its `(chunk, cycle)` pairs:
    `cycle` is the shortest list of concept names from that chunk's concept
    back to itself, each needing the next."""
    for subject, concepts in sorted(_concepts_by_subject(chunks).items()):
        needs = {concept: [name for name in
                           prerequisite_names(chunk['has_prerequisite'])
                           if name in concepts]
                 for concept, chunk in concepts.items()}
        for component in _strongly_connected(needs):
            if len(component) > 1:
                members = set(component)
                yield [(concepts[concept], _shortest_cycle(concept, needs,
                                                           members))
                       for concept in concepts if concept in members]


def _strongly_connected(graph):
    """Tarjan's algorithm, iterative: the strongly connected components of
    `graph` (`{node: [successor, ...]}`)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(graph[succ])))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def _shortest_cycle(start, graph, members):
    """The shortest path `start, ..., start` within `members` (breadth
    first)."""
    previous = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in graph[node]:
                if succ not in members:
                    continue
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1] + [start]
                if succ not in previous:
                    previous[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError('%r is on no cycle' % start)


def _inverse_link_warnings(chunks):
    """Warnings for `prerequisite_for` names the `has_prerequisite` links do
    not confirm."""
    known = _concepts_by_subject(chunks)
    warnings = []
    for chunk in chunks:
        concepts = known[chunk['subject']]
        for name in prerequisite_names(chunk['prerequisite_for']):
            other = concepts.get(name)
            if other is None:
                message = ('lists %r in prerequisite_for, which is not a '
                           'concept of subject %r' % (name, chunk['subject']))
            elif chunk['concept'] not in prerequisite_names(
                    other['has_prerequisite']):
                message = ('lists %r in prerequisite_for, but chunk %s does '
                           'not list %r in has_prerequisite; links come from '
                           'has_prerequisite only'
                           % (name, other['id'], chunk['concept']))
            else:
                continue
            warnings.append(Problem(chunk['id'], 'chunk %s: %s'
                                    % (chunk['id'], message)))
    return warnings


# The starter corpus and its figures ---------------------------------------

def starter_corpus_paths():
    """The starter corpus files shipped with the package, sorted by name."""
    return _starter_files(STARTER_FOLDER)


def starter_question_paths():
    """The starter question files shipped with the package, sorted by
    name."""
    return _starter_files(STARTER_QUESTIONS_FOLDER)


def _starter_files(name):
    folder = resources.files(STARTER_PACKAGE).joinpath(name)
    return sorted((entry for entry in folder.iterdir()
                   if entry.is_file() and entry.name.endswith('.jsonl')),
                  key=lambda entry: entry.name)


def load_starter_questions():
    """Every question dict of the starter questions, file by file."""
    return [question for path in starter_question_paths()
            for _, question in read_jsonl(path)]


def question_report(questions, chunks):
    """The `Problem`s of question dicts `questions` about `chunks`: an
    unknown chunk, or a question or rubric that breaks the rules of
    `tracl.model.rubrics` (a key point must name sentences the chunk
    has)."""
    content = {chunk.get('id'): chunk.get('content') for chunk in chunks
               if isinstance(chunk, dict)}
    problems = []
    for number, question in enumerate(questions, 1):
        where = 'question %d' % number
        chunk_id = question.get('chunk_id') \
            if isinstance(question, dict) else None
        if chunk_id not in content:
            problems.append(Problem(where, '%s names no known chunk (%r)'
                                    % (where, chunk_id)))
            continue
        problems.extend(Problem(where, '%s (chunk %s): %s'
                                % (where, chunk_id, message))
                        for message in question_problems(
                            question, content[chunk_id]))
    return problems


def load_starter_corpus():
    """Every chunk dict of the starter corpus, file by file, as written."""
    return [chunk for path in starter_corpus_paths()
            for _, chunk in read_jsonl(path)]


def subject_counts(chunks):
    """`{subject: number of chunks}`, sorted by subject."""
    counts = Counter(chunk['subject'] for chunk in chunks)
    return dict(sorted(counts.items()))


def longest_chain(chunks):
    """`{subject: [concept, ...]}`: for each subject, the longest run of
    prerequisite links, from a foundation to the concept that needs it
    last. Prerequisites naming no concept of the subject are ignored; the
    chunks must be free of cycles (as `validate_chunks` leaves them)."""
    chains = {}
    for subject, concepts in sorted(_concepts_by_subject(chunks).items()):
        needs = {concept: [name for name in
                           prerequisite_names(chunk['has_prerequisite'])
                           if name in concepts]
                 for concept, chunk in concepts.items()}
        best = {}       # concept -> longest chain ending with it
        for concept in concepts:
            _chain_to(concept, needs, best)
        chains[subject] = max(best.values(), key=len, default=[])
    return chains


def _chain_to(concept, needs, best):
    """Fill `best[concept]` iteratively (depth first, post order)."""
    work, entered = [concept], set()
    while work:
        node = work[-1]
        if node in best:
            work.pop()
            continue
        pending = [name for name in needs[node] if name not in best]
        if pending and node not in entered:
            entered.add(node)
            work.extend(pending)
            continue
        if pending:
            raise CorpusError('the prerequisites of %r form a cycle; validate '
                              'the corpus first' % node)
        longest = max((best[name] for name in needs[node]), key=len,
                      default=[])
        best[node] = longest + [node]
        work.pop()
