"""A chunk's rules: its fields, what a valid chunk is, how it is read back
from a store, and its JSON form in the API.

A chunk is a piece of study material that becomes a concept: `id`,
`subject`, `concept`, `content`, `has_prerequisite` and `prerequisite_for`
(each null, a concept name or a list of names), `difficulty_level` (1-5)
and `source`. Every module that checks, stores or shows a chunk goes
through this one: the corpus importer (`tracl.corpus`, `learning import`),
both chunk stores, the search pipeline and the learning paths.

The shapes, and why there are three:

- `Chunk`, a named tuple of `FIELDS`: a chunk that passed `check_chunk`,
  which the stores write.
- A dict with the same keys: what `IChunkStore` returns and the corpus
  report holds (`Chunk.as_dict()`, `read_chunk()`). The stores keep
  answering dicts because dozens of callers and the tests index them by
  field name, and a dict is what JSON and the cache give back anyway.
- The API's chunk JSON (`chunk_json()`, `chunk_from_json()`): `chunk_id`
  instead of `id`, with the search's `relevance` and `cosine`.

Validation either collects every problem of a chunk (`chunk_problems`, for
an import report that lists what to fix) or raises `ChunkError` on a bad
chunk (`check_chunk`, for the stores). Readers are lenient instead: a
record a store holds is shown even if written by hand, with defaults for
what is missing, and `prerequisite_names()` gives a clean list of names
whatever the stored value (`checked_prerequisite_names()` is the strict
form, which says what is wrong).

Only the standard library is used, so scripts can import this module
without Trac.
"""

import json
from collections import namedtuple

#: Every chunk field, in the order of a normalised chunk.
FIELDS = ('id', 'subject', 'concept', 'content', 'has_prerequisite',
          'prerequisite_for', 'difficulty_level', 'source')

#: Fields every chunk must have, as non-empty strings.
REQUIRED_FIELDS = ('id', 'subject', 'concept', 'content')

#: The difficulty of a chunk that gives none.
DEFAULT_DIFFICULTY = 3

#: Fields a chunk may leave out (or set to null), with the value it then gets.
OPTIONAL_FIELDS = {
    'has_prerequisite': None,
    'prerequisite_for': None,
    'difficulty_level': DEFAULT_DIFFICULTY,
    'source': '',
}

#: The two fields naming other concepts of the subject.
LINK_FIELDS = ('has_prerequisite', 'prerequisite_for')

#: The longest `id` the `chunks` table holds (varchar(128)).
MAX_ID_LENGTH = 128

#: The longest `subject` and `concept` the `chunks` table holds (varchar(200)).
MAX_NAME_LENGTH = 200

#: The lowest and highest `difficulty_level` (the table's CHECK constraint).
MIN_DIFFICULTY = 1
MAX_DIFFICULTY = 5

_LENGTH_LIMITS = (('id', MAX_ID_LENGTH), ('subject', MAX_NAME_LENGTH),
                  ('concept', MAX_NAME_LENGTH))


class ChunkError(ValueError):
    """A chunk, or one of its values, breaks a chunk rule."""


class Chunk(namedtuple('Chunk', FIELDS)):
    """A chunk that passed `check_chunk`: names stripped, prerequisite
    names each given once, defaults filled in."""
    __slots__ = ()

    def as_dict(self):
        """The chunk as `IChunkStore` returns it."""
        return dict(zip(FIELDS, self))


# Prerequisite names ---------------------------------------------------------

def prerequisite_names(value):
    """The concept names in a `has_prerequisite` or `prerequisite_for`
    value, for readers: null, a blank string or anything that is not a
    name or a list gives `[]`; list items that are not names are left
    out; names are stripped. Never raises: a stored value is shown as well
    as it can be (the importer reports bad values before they are
    stored)."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [item.strip() for item in value
                if isinstance(item, str) and item.strip()]
    return []


def checked_prerequisite_names(value):
    """`prerequisite_names(value)` for a value about to be stored: raises
    `ChunkError` saying what is wrong when `value` is neither null, a name
    nor a list of names."""
    if value is None or isinstance(value, str):
        return prerequisite_names(value)
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise ChunkError('a list of prerequisites may hold only '
                                 'concept names, not %s'
                                 % (json.dumps(item)
                                    if isinstance(item, str)
                                    else json_type(item)))
        return prerequisite_names(value)
    raise ChunkError('prerequisites must be null, a concept name or a list '
                     'of names, not a %s' % json_type(value))


# Validation -----------------------------------------------------------------

def json_type(value):
    """The JSON name of the type of `value`, for messages."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, (int, float)):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, list):
        return 'array'
    if isinstance(value, dict):
        return 'object'
    return type(value).__name__


def word_count(text):
    """The number of words in `text`, as the word bounds count them."""
    return len(text.split())


def missing_fields(chunk):
    """The required fields `chunk` lacks (absent, not a string, or blank):
    a chunk without them cannot become a concept."""
    return [field for field in REQUIRED_FIELDS
            if _required_problem(field, chunk.get(field))]


def chunk_problems(raw, where, min_words=None, max_words=None):
    """Check one chunk and collect what is wrong with it, for a report.

    Returns `(fields, problems, warnings)`: `fields` the normalised fields
    that passed (every field of `FIELDS` when `problems` is empty),
    `problems` sentences that reject the chunk, `warnings` sentences
    naming the chunk that reject nothing. `where` locates a chunk without
    a usable id. The word bounds are checked when given.
    """
    if not isinstance(raw, dict):
        return {}, ['a chunk must be a JSON object, not a %s'
                    % json_type(raw)], []
    raw_id = raw.get('id')
    label = ('chunk %s' % raw_id if isinstance(raw_id, str) and raw_id.strip()
             else where)
    chunk, problems, warnings = {}, [], []
    for field in REQUIRED_FIELDS:
        value = raw.get(field)
        problem = _required_problem(field, value)
        if problem:
            problems.append(problem)
        else:
            chunk[field] = value if field == 'content' else value.strip()
    for field, limit in _LENGTH_LIMITS:
        if len(chunk.get(field, '')) > limit:
            problems.append('%r has %d characters; at most %d fit'
                            % (field, len(chunk[field]), limit))
            del chunk[field]
    if 'content' in chunk and min_words is not None:
        words = word_count(chunk['content'])
        if not min_words <= words <= max_words:
            problems.append('content has %d word%s; chunks need %d to %d'
                            % (words, '' if words == 1 else 's', min_words,
                               max_words))
    for field in LINK_FIELDS:
        value = raw.get(field)
        try:
            names = checked_prerequisite_names(value)
        except ChunkError as e:
            problems.append('%r: %s' % (field, e))
            continue
        unique = list(dict.fromkeys(names))
        if len(unique) < len(names):
            warnings.append('%s: %r names a concept twice; it is kept once'
                            % (label, field))
        if isinstance(value, list):
            chunk[field] = unique
        else:
            chunk[field] = unique[0] if unique else None
        if (field == 'has_prerequisite' and 'concept' in chunk
                and chunk['concept'] in unique):
            problems.append('concept %r lists itself as a prerequisite'
                            % chunk['concept'])
    difficulty = raw.get('difficulty_level')
    if difficulty is None:
        difficulty = DEFAULT_DIFFICULTY
    if (isinstance(difficulty, bool) or not isinstance(difficulty, int)
            or not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY):
        problems.append('difficulty_level must be a whole number from %d to '
                        '%d, not %s' % (MIN_DIFFICULTY, MAX_DIFFICULTY,
                                        json.dumps(difficulty)))
    chunk['difficulty_level'] = difficulty
    source = raw.get('source')
    if source is None:
        source = OPTIONAL_FIELDS['source']
    if not isinstance(source, str):
        problems.append("'source' must be a string, not a %s"
                        % json_type(source))
    chunk['source'] = source
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        warnings.append('%s: %s %s not a chunk field and is ignored'
                        % (label, ', '.join(map(repr, unknown)),
                           'is' if len(unknown) == 1 else 'are'))
    fields = {field: chunk[field] for field in FIELDS if field in chunk}
    return fields, problems, warnings


def check_chunk(raw, number):
    """`raw` as a `Chunk`, or `ChunkError` naming the chunk (by id, else
    by its `number` in a batch) and everything wrong with it."""
    fields, problems, _warnings = chunk_problems(raw, 'chunk %d' % number)
    if problems:
        name = raw.get('id') if isinstance(raw, dict) else None
        raise ChunkError('Chunk %s: %s' % (
            name if isinstance(name, str) and name.strip() else number,
            '; '.join(problems)))
    return Chunk(**fields)


def check_chunks(chunks):
    """`chunks` as a list of `Chunk`s for one write, or `ChunkError`: each
    must be valid, and no two may share an id or a concept name within a
    subject."""
    checked = [check_chunk(chunk, n) for n, chunk in enumerate(chunks, 1)]
    seen_ids, seen_concepts = set(), {}
    for chunk in checked:
        if chunk.id in seen_ids:
            raise ChunkError('Chunk %s appears twice in one upsert'
                             % chunk.id)
        seen_ids.add(chunk.id)
        key = (chunk.subject, chunk.concept)
        if key in seen_concepts:
            raise ChunkError('Chunks %s and %s both name concept %r of '
                             'subject %r; a concept name must be unique '
                             'within its subject'
                             % (seen_concepts[key], chunk.id, key[1],
                                key[0]))
        seen_concepts[key] = chunk.id
    return checked


def _required_problem(field, value):
    """What is wrong with the value of the required `field`, or `None`."""
    if value is None:
        return ('the required field %r is missing (every chunk needs %s)'
                % (field, ', '.join(REQUIRED_FIELDS)))
    if not isinstance(value, str):
        return '%r must be a string, not a %s' % (field, json_type(value))
    if not value.strip():
        return '%r is empty' % field
    return None


# Reading and showing --------------------------------------------------------

def read_chunk(record):
    """The chunk dict of a stored `record` (a mapping of the fields, such as
    a table row or a Neo4j node's properties), as `IChunkStore` returns
    it. Hand-written records are shown as well as they can be: a missing
    or unusable difficulty is the default, clamped to 1-5; a missing
    source is empty; prerequisites keep their form (a name or a list)
    with only usable names."""
    return {'id': record['id'], 'subject': record['subject'],
            'concept': record['concept'], 'content': record['content'],
            'has_prerequisite': _readable_names(
                record.get('has_prerequisite')),
            'prerequisite_for': _readable_names(
                record.get('prerequisite_for')),
            'difficulty_level': _readable_difficulty(
                record.get('difficulty_level')),
            'source': record.get('source') or ''}


def chunk_json(chunk, cosine, relevance, lexical=0.0, foundation_for=()):
    """The API's JSON form of a chunk found by a search (the `chunks` of
    `POST /learning-paths/generate`), with its raw `cosine`, its
    `lexical` match and calibrated `relevance`. A foundation (a chunk the
    found ones need first) has no relevance of its own (None) and names
    the concepts it is needed for in `foundation_for`."""
    chunk = read_chunk(chunk)
    return {
        'chunk_id': chunk['id'], 'concept': chunk['concept'],
        'subject': chunk['subject'], 'content': chunk['content'],
        'relevance': None if relevance is None
        else round(float(relevance), 4),
        'cosine': round(float(cosine), 4),
        'lexical': round(float(lexical), 4),
        'foundation_for': list(foundation_for),
        'has_prerequisite': chunk['has_prerequisite'],
        'prerequisite_for': chunk['prerequisite_for'],
        'difficulty_level': chunk['difficulty_level'],
        'source': chunk['source'],
    }


def chunk_from_json(found):
    """The chunk dict of a chunk's API JSON (the inverse of
    `chunk_json`, without the search's figures)."""
    return read_chunk(dict(found, id=found['chunk_id']))


def _readable_names(value):
    if isinstance(value, list):
        return prerequisite_names(value)
    names = prerequisite_names(value)
    return names[0] if names else None


def _readable_difficulty(value):
    try:
        difficulty = int(value or DEFAULT_DIFFICULTY)
    except (TypeError, ValueError):
        return DEFAULT_DIFFICULTY
    return min(MAX_DIFFICULTY, max(MIN_DIFFICULTY, difficulty))
