"""`learning questions import | list`: the question store, for admins.

Questions are shared by every learner of a chunk (`tracl.model.questions`).
An admin imports hand-written ones (JSON Lines, one question record a line,
as the starter question files write them) and lists a chunk's questions. A
question is checked against its chunk's text in the configured chunk
store: one whose chunk is not there, or whose rubric breaks the rules, is
rejected with the reason, and the rest is stored.
"""

import json
import os

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import printout
from trac.util.translation import _

from tracl.corpus import (read_jsonl, starter_corpus_paths,
                          starter_question_paths)
from tracl.model.questions import (STARTER_AUTHOR, chunk_questions,
                                   import_questions)
from tracl.search import ChunkStoreUnavailable, LearningChunkStore


def _read_lines(path):
    """`(records, unreadable)` of JSON Lines file `path`: `(where,
    record)` of every non-blank line that is JSON, and `(where, reason)`
    of those that are not."""
    records, unreadable = [], []
    with open(path, encoding='utf-8-sig') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(('line %d' % number, json.loads(line)))
            except ValueError as e:
                unreadable.append(('line %d' % number,
                                   'not valid JSON (%s)' % e))
    return records, unreadable


def _line_order(where):
    number = where.rsplit(' ', 1)[-1]
    return (int(number) if number.isdigit() else 0, where)


class QuestionAdminCommands(Component):
    """Import and list the questions of chunks."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning questions import', '<file.jsonl> [--author NAME]',
               """Check and store questions with their rubrics (JSON Lines)

               Each line is a question record: chunk_id, question,
               difficulty, expected_answer, key_points, misconceptions.
               Questions whose chunk is not in the configured chunk store,
               or that break the rubric rules, are listed with the reason;
               the rest is stored, once (importing twice is safe). The
               author recorded is NAME (default: starter).""",
               None, self._import)
        yield ('learning questions list', '<chunk_id> [--json]',
               """List a chunk's stored questions, by difficulty

               With --json, one question record a line, with its id and
               author.""", None, self._list)

    # Public methods

    def import_records(self, records, author=STARTER_AUTHOR, unreadable=()):
        """Store `(where, record)` pairs, checked against their chunks in
        the configured store; print what was rejected (with the
        `unreadable` lines' `(where, reason)`) and the counts, and return
        the `ImportReport`."""
        chunk_ids = sorted({r.get('chunk_id') for _w, r in records
                            if isinstance(r, dict)
                            and isinstance(r.get('chunk_id'), str)})
        try:
            chunks = LearningChunkStore(self.env).store.get_chunks(chunk_ids)
        except ChunkStoreUnavailable as e:
            raise AdminCommandError(_("The chunk store is unavailable: "
                                      "%(error)s", error=e))
        report = import_questions(
            self.env, records,
            {cid: chunk['content'] for cid, chunk in chunks.items()}, author)
        rejected = sorted(list(unreadable) + report.rejected,
                          key=lambda item: _line_order(item[0]))
        report = report._replace(rejected=rejected)
        for where, reason in rejected:
            printout(_("rejected %(where)s: %(reason)s", where=where,
                       reason=reason))
        printout(_("%(new)d new questions, %(same)d already stored, "
                   "%(rejected)d rejected", new=report.added,
                   same=report.existing, rejected=len(report.rejected)))
        return report

    def import_starter(self, corpus_names=None):
        """Store the starter questions (of the starter corpus files named
        `corpus_names` only, when given)."""
        records = []
        for path in starter_question_paths():
            if corpus_names is not None and path.name not in corpus_names:
                continue
            records.extend(('%s line %d' % (path.name, number), record)
                           for number, record in read_jsonl(path))
        if records:
            self.import_records(records)

    def import_for_corpus_file(self, path):
        """Store the starter questions of a starter corpus file imported
        by path (its questions file has the same name)."""
        name = os.path.basename(path)
        if name in {p.name for p in starter_corpus_paths()}:
            self.import_starter([name])

    # Commands

    def _import(self, *args):
        args = list(args)
        author = STARTER_AUTHOR
        if '--author' in args:
            at = args.index('--author')
            if at + 1 >= len(args):
                raise AdminCommandError(_("--author needs a name."),
                                        show_usage=True)
            author = args[at + 1]
            del args[at:at + 2]
        if len(args) != 1 or args[0].startswith('--'):
            raise AdminCommandError(_("Name a JSON Lines file of "
                                      "questions."), show_usage=True)
        try:
            records, unreadable = _read_lines(args[0])
        except (OSError, UnicodeDecodeError) as e:
            raise AdminCommandError(_("Cannot read %(path)s: %(error)s",
                                      path=args[0], error=e))
        self.import_records(records, author, unreadable)

    def _list(self, *args):
        positional = [a for a in args if a != '--json']
        if len(positional) != 1:
            raise AdminCommandError(_("Usage: learning questions list "
                                      "<chunk_id> [--json]"),
                                    show_usage=True)
        questions = chunk_questions(self.env, positional[0])
        if not questions:
            printout(_("Chunk %(id)s has no stored question.",
                       id=positional[0]))
            return
        for stored in questions:
            if '--json' in args:
                printout(json.dumps(dict(stored.as_question().as_json(),
                                         id=stored.id, author=stored.author),
                                    ensure_ascii=False))
                continue
            printout(_("#%(id)d difficulty %(level)d (%(author)s, %(points)d "
                       "key points, %(errors)d misconceptions): %(question)s",
                       id=stored.id, level=stored.difficulty,
                       author=stored.author,
                       points=len(stored.rubric.key_points),
                       errors=len(stored.rubric.misconceptions),
                       question=stored.question))
