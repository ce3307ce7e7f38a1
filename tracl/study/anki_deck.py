"""A learner's concepts as an Anki deck (`.apkg`), written with genanki.

One note per concept the learner owns, in the sub-deck `TracLearn::<subject>`
of its subject:

- front: the concept's name and the question it asks now;
- back: the learner's last answer that reached the mastery threshold (if
  any), the expected answer only while the concept is mastered (the study
  loop's rule, `StudyLoop.expected_answer`: never before), the chunk's text
  and its source reference;
- tags: `tracl`, the subject's slug and the learner's status
  (`mastered`, `studying`, `not_started`).

Ids are stable, so importing a newer export updates the notes instead of
adding copies: the note type's and the decks' ids are hashes of their names,
a note's guid is a hash of the learner's `sub` and the ticket id.

Every field is HTML in Anki and every text here is hostile (chunks,
questions, answers): each is escaped, its line breaks kept as `<br>`.
"""

import hashlib
import html
import io
import itertools
import re
import sqlite3
import time
import zipfile
from collections import namedtuple
from datetime import datetime, timezone

import genanki
from trac.core import Component
from trac.util.translation import _

from tracl.model.anki import exported_concepts
from tracl.search import ChunkStoreUnavailable, LearningChunkStore
from tracl.study.loop import StudyLoop

#: The parent deck of every subject's deck.
ROOT_DECK = 'TracLearn'

#: The tag every exported note carries.
TRACL_TAG = 'tracl'

#: Name of the note type; its id is derived from it, so a change of fields
#: or templates that Anki must see as another note type changes the name.
MODEL_NAME = 'TracLearn concept v1'

#: The note type's fields, in order (the first is Anki's sort field).
FIELDS = ('Concept', 'Question', 'YourAnswer', 'ExpectedAnswer', 'Source',
          'Reference')

#: What a note is made of, texts as they are (not yet escaped).
Card = namedtuple('Card', [
    'ticket_id', 'concept', 'subject', 'status', 'question', 'good_answer',
    'expected_answer', 'source_text', 'source_reference'])

#: An export: the file's name, its bytes and how many notes it holds.
AnkiDeck = namedtuple('AnkiDeck', ['filename', 'content', 'notes'])


# Stable ids -----------------------------------------------------------------

def stable_id(kind, name):
    """A stable id in [2**30, 2**31) for the `kind` ('deck', 'model')
    named `name`, as genanki asks ids to be: the same name gives the same
    id in every export and on every server."""
    digest = hashlib.sha256(('tracl:%s:%s' % (kind, name)).encode('utf-8'))
    return (1 << 30) + int.from_bytes(digest.digest()[:8], 'big') % (1 << 30)


def note_guid(sub, ticket_id):
    """The guid of learner `sub`'s note of concept `ticket_id`: the same in
    every export, so a re-import updates the note."""
    return genanki.guid_for(TRACL_TAG, sub, int(ticket_id))


# Names and tags -------------------------------------------------------------

_CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]+')
_SPACE_RE = re.compile(r'\s+')
_SLUG_RE = re.compile(r'[^\w]+')


def deck_name(subject):
    """The deck of `subject`: `TracLearn::<subject>`. Deck names are plain
    text in Anki; `::` would nest decks, so the subject's own `::` become
    `:`, and control characters and runs of spaces one space."""
    name = _SPACE_RE.sub(' ', _CONTROL_RE.sub(' ', subject or '')).strip()
    name = re.sub(r':{2,}', ':', name).strip(': ')
    return '%s::%s' % (ROOT_DECK, name or _("No subject"))


def subject_tag(subject):
    """The tag of `subject`: lower case words joined by `-` (Anki tags
    cannot hold spaces)."""
    slug = _SLUG_RE.sub('-', (subject or '').lower()).strip('-_')
    return slug or 'no-subject'


# Fields -------------------------------------------------------------------

def html_field(text):
    """`text` as the HTML of an Anki field: escaped, line breaks kept."""
    if not text:
        return ''
    escaped = html.escape(text.replace('\r\n', '\n'), quote=True)
    return escaped.replace('\n', '<br>')


def note_fields(card):
    """The fields of `card`'s note, in `FIELDS` order, escaped."""
    return [html_field(card.concept), html_field(card.question),
            html_field(card.good_answer), html_field(card.expected_answer),
            html_field(card.source_text), html_field(card.source_reference)]


def note_tags(card):
    return [TRACL_TAG, subject_tag(card.subject), card.status]


# The package --------------------------------------------------------------

_CSS = """.card { font-family: sans-serif; font-size: 18px; text-align: left;
  color: black; background-color: white; }
.tracl-concept { font-size: 14px; color: #666; }
.tracl-question { font-weight: bold; margin: 0.5em 0; }
.tracl-label { font-size: 13px; color: #666; margin-top: 1em; }
.tracl-source { font-size: 15px; }
.tracl-reference { font-size: 13px; color: #666; font-style: italic; }
"""


def _label(text):
    return '<div class="tracl-label">%s</div>' % html.escape(text)


def note_model():
    """The note type: front the concept and question, back the learner's
    answer, the expected answer, the source text and reference."""
    front = ('<div class="tracl-concept">{{Concept}}</div>\n'
             '<div class="tracl-question">{{Question}}</div>')
    back = ('{{FrontSide}}\n<hr id="answer">\n'
            '{{#YourAnswer}}%s<div>{{YourAnswer}}</div>{{/YourAnswer}}\n'
            '{{#ExpectedAnswer}}%s<div>{{ExpectedAnswer}}</div>'
            '{{/ExpectedAnswer}}\n'
            '{{#Source}}%s<div class="tracl-source">{{Source}}</div>'
            '{{/Source}}\n'
            '{{#Reference}}<div class="tracl-reference">{{Reference}}</div>'
            '{{/Reference}}') % (_label(_("Your answer")),
                                 _label(_("Expected answer")),
                                 _label(_("Source text")))
    return genanki.Model(
        stable_id('model', MODEL_NAME), MODEL_NAME,
        fields=[{'name': name} for name in FIELDS],
        templates=[{'name': 'Concept', 'qfmt': front, 'afmt': back}],
        css=_CSS)


def build_decks(sub, cards):
    """The genanki decks of learner `sub`'s `cards`: the root deck and one
    sub-deck per subject, by deck name."""
    model = note_model()
    decks = {ROOT_DECK: genanki.Deck(stable_id('deck', ROOT_DECK),
                                     ROOT_DECK)}
    for card in cards:
        name = deck_name(card.subject)
        deck = decks.get(name)
        if deck is None:
            deck = decks[name] = genanki.Deck(stable_id('deck', name), name)
        deck.add_note(genanki.Note(model=model, fields=note_fields(card),
                                   guid=note_guid(sub, card.ticket_id),
                                   tags=note_tags(card)))
    return [decks[name] for name in sorted(decks)]


def package_bytes(decks, timestamp=None):
    """The `.apkg` of `decks`: a zip holding the collection
    (`collection.anki2`, SQLite) and an empty media list. Written in
    memory: genanki's `write_to_file` leaves a temporary file behind on
    every call."""
    if timestamp is None:
        timestamp = time.time()
    connection = sqlite3.connect(':memory:')
    try:
        genanki.Package(decks).write_to_db(
            connection.cursor(), timestamp,
            itertools.count(int(timestamp * 1000)))
        connection.commit()
        collection = connection.serialize()
    finally:
        connection.close()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as package:
        package.writestr('collection.anki2', collection)
        package.writestr('media', '{}')
    return buffer.getvalue()


def deck_filename(now=None):
    """`tracl-deck-<date>.apkg`."""
    now = now or datetime.now(timezone.utc)
    return now.strftime('tracl-deck-%Y-%m-%d.apkg')


class AnkiDeckExport(Component):
    """Builds a learner's Anki deck of their concepts."""

    def export(self, sub):
        """Learner `sub`'s concepts as an `AnkiDeck`. A learner without
        concepts gets a valid deck without notes."""
        cards = self.cards(sub)
        return AnkiDeck(deck_filename(), package_bytes(build_decks(sub,
                                                                   cards)),
                        len(cards))

    def cards(self, sub):
        """`sub`'s concepts as `Card`s, by subject then ticket id."""
        loop = StudyLoop(self.env)
        rows = exported_concepts(self.env, sub, loop.mastery_threshold)
        references = self._references(r.chunk_id for r in rows
                                      if r.chunk_id)
        cards = []
        for row in rows:
            concept = loop.concept(sub, row.ticket_id)
            if concept is None:  # deleted or given away meanwhile
                continue
            expected = loop.expected_answer(sub, concept) \
                if row.status == 'mastered' else None
            cards.append(Card(row.ticket_id, concept.concept,
                              concept.subject or '', row.status,
                              concept.question, row.good_answer, expected,
                              concept.content,
                              references.get(row.chunk_id, '')))
        return cards

    def _references(self, chunk_ids):
        """`{chunk_id: source}` from the chunk store; empty when the store
        does not answer (the deck is still made, without references)."""
        chunk_ids = list(chunk_ids)
        if not chunk_ids:
            return {}
        try:
            chunks = LearningChunkStore(self.env).store.get_chunks(chunk_ids)
        except ChunkStoreUnavailable as e:
            self.log.warning("Anki export without source references: the "
                             "chunk store does not answer: %s", e)
            return {}
        return {chunk_id: chunk.get('source') or ''
                for chunk_id, chunk in chunks.items()}
