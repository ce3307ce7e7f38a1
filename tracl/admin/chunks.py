"""`learning import | export | reindex | stats | search | neo4j load`: the
chunk library, for admins."""

import json
import os
import sys

from trac.admin.api import AdminCommandError, IAdminCommandProvider
from trac.core import Component, implements
from trac.util.text import printout
from trac.util.translation import _

from tracl.admin.options import parse_options
from tracl.admin.questions import QuestionAdminCommands
from tracl.corpus import (SPEC_MAX_WORDS, CorpusError, starter_corpus_paths,
                          validate_chunks, validate_jsonl)
from tracl.embedding import EmbeddingUnavailable, LearningEmbedder
from tracl.llm import LLMUnavailable
from tracl.model.chunks import FIELDS as CHUNK_FIELDS
from tracl.search import ChunkStoreUnavailable, LearningChunkStore
from tracl.search.pipeline import SearchPipeline
from tracl.search.relevance import chunk_text

#: Fewest words an imported chunk may have (the starter corpus's chunks are
#: 100-500 words; admins' own material may be shorter, but a fragment gives
#: a question nothing to stand on).
IMPORT_MIN_WORDS = 20

#: Chunks embedded per batch while importing.
IMPORT_BATCH = 64


def progress(done, total, label):
    """A one-line progress bar on standard error."""
    if not total or not sys.stderr.isatty():
        return
    width = 30
    filled = int(width * done / total)
    sys.stderr.write('\r%s [%s%s] %d/%d' % (label, '#' * filled,
                                            '.' * (width - filled), done,
                                            total))
    if done >= total:
        sys.stderr.write('\n')
    sys.stderr.flush()


class ChunkAdminCommands(Component):
    """Fill, inspect and search the chunk store."""

    implements(IAdminCommandProvider)

    # IAdminCommandProvider methods

    def get_admin_commands(self):
        yield ('learning import', '<file.jsonl> | --starter',
               """Validate, embed and store chunks (JSON Lines)

               Chunks are checked (fields, lengths, prerequisites within
               their subject, no cycles); rejected ones are listed with the
               reason and the rest is stored. Unchanged chunks are not
               embedded again, so importing twice is safe. --starter
               imports the starter corpus shipped with TracLearn, and its
               questions (also when a starter corpus file is named).""",
               None, self._import)
        yield ('learning export', '[file.jsonl]',
               """Write every chunk as JSON Lines (to standard output
               without a file), without embeddings""", None, self._export)
        yield ('learning reindex', '',
               """Embed every chunk again with the configured embedder
               (after changing it)""", None, self._reindex)
        yield ('learning stats', '',
               """Chunks per subject, the embedding model and dimension""",
               None, self._stats)
        yield ('learning search', '<query> [--json]',
               """Run the learning-path search for a query

               Prints each chunk found with its calibrated relevance and
               raw cosine; with --json the last line is the generate
               response.""", None, self._search)
        yield ('learning neo4j load', '<file.jsonl> | --starter',
               """Fill a Neo4j database you administer with chunks

               Uses [neo4j] uri and the write password in
               NEO4J_WRITE_PASSWORD (the running app only reads). Creates
               the vector index and the id constraint when missing.""",
               None, self._neo4j_load)

    # Commands

    def _import(self, *args):
        report = self._read(args)
        store = self._store()
        existing = store.get_chunks([c['id'] for c in report.valid])
        changed = [c for c in report.valid
                   if self._differs(c, existing.get(c['id']))]
        embedder = LearningEmbedder(self.env).embedder
        new = updated = 0
        for start in range(0, len(changed), IMPORT_BATCH):
            batch = changed[start:start + IMPORT_BATCH]
            vectors = self._embed(embedder, batch)
            added, refreshed = store.upsert(batch, vectors,
                                            embedder.model_name())
            new += added
            updated += refreshed
            progress(start + len(batch), len(changed), _("Embedding"))
        for problem in report.rejected:
            printout(_("rejected %(where)s: %(reason)s", where=problem.where,
                       reason=problem.message))
        for problem in report.warnings:
            printout(_("warning %(where)s: %(reason)s", where=problem.where,
                       reason=problem.message))
        printout(_("%(new)d new, %(updated)d updated, %(same)d unchanged, "
                   "%(rejected)d rejected", new=new, updated=updated,
                   same=len(report.valid) - len(changed),
                   rejected=len(report.rejected)))
        # The starter corpus ships its questions: they go to the question
        # store with their chunks, which must be stored first.
        questions = QuestionAdminCommands(self.env)
        if list(args) == ['--starter']:
            questions.import_starter()
        elif args:
            questions.import_for_corpus_file(args[0])

    def _export(self, path=None):
        out = open(path, 'w', encoding='utf-8') if path else sys.stdout
        try:
            count = 0
            for chunk in self._store().iter_chunks():
                out.write(json.dumps({f: chunk.get(f) for f in CHUNK_FIELDS},
                                     ensure_ascii=False) + '\n')
                count += 1
        finally:
            if path:
                out.close()
        if path:
            printout(_("Exported %(n)d chunks to %(path)s", n=count,
                       path=path))

    def _reindex(self):
        store = self._store()
        chunks = list(store.iter_chunks())
        embedder = LearningEmbedder(self.env).embedder
        vectors = []
        for start in range(0, len(chunks), IMPORT_BATCH):
            batch = chunks[start:start + IMPORT_BATCH]
            vectors.append(self._embed(embedder, batch))
            progress(start + len(batch), len(chunks), _("Embedding"))
        if chunks:
            import numpy
            # One upsert replacing every embedding: a store refuses to mix
            # the vectors of two models.
            store.upsert(chunks, numpy.vstack(vectors),
                         embedder.model_name())
        printout(_("Embedded %(n)d chunks with %(model)s", n=len(chunks),
                   model=embedder.model_name()))

    def _stats(self):
        stats = self._store().stats()
        printout(_("%(n)d chunks, embedded with %(model)s (%(dim)s "
                   "dimensions)", n=stats['chunks'],
                   model=stats.get('embedding_model') or '-',
                   dim=stats.get('dimension') or '-'))
        for subject, count in sorted(stats.get('subjects', {}).items()):
            printout('  %-40s %5d' % (subject, count))

    def _search(self, *args):
        positional = [a for a in args if a != '--json']
        if len(positional) != 1:
            raise AdminCommandError(_("Usage: learning search <query> "
                                      "[--json]"), show_usage=True)
        query = ' '.join(positional[0].split())
        try:
            result = SearchPipeline(self.env).run(query)
        except (LLMUnavailable, EmbeddingUnavailable,
                ChunkStoreUnavailable) as e:
            raise AdminCommandError(_("The search is unavailable: "
                                      "%(error)s", error=e))
        if not result['chunks']:
            printout(result.get('message', ''))
        for chunk in result['chunks']:
            if chunk['foundation_for']:
                # A foundation has no relevance of its own.
                printout(_("  needed first  cos %(cosine).3f  %(id)-14s "
                           "%(subject)s / %(concept)s (for %(names)s)",
                           cosine=chunk['cosine'], id=chunk['chunk_id'],
                           subject=chunk['subject'],
                           concept=chunk['concept'],
                           names=', '.join(chunk['foundation_for'])))
                continue
            printout('%5.1f%%  cos %.3f  %-14s %s / %s' % (
                chunk['relevance'] * 100, chunk['cosine'], chunk['chunk_id'],
                chunk['subject'], chunk['concept']))
        if '--json' in args:
            printout(json.dumps(dict(result, query=query, cached=False),
                                ensure_ascii=False))

    def _neo4j_load(self, *args):
        from tracl.search.neo4j_store import Neo4jChunkStore, load_chunks
        positional, options = parse_options(args, ('user',))
        report = self._read(positional)
        password = os.environ.get('NEO4J_WRITE_PASSWORD')
        if not password:
            raise AdminCommandError(_("Set NEO4J_WRITE_PASSWORD to the "
                                      "password of a Neo4j user that may "
                                      "write."))
        config = Neo4jChunkStore(self.env)
        embedder = LearningEmbedder(self.env).embedder
        vectors = self._embed(embedder, report.valid)
        try:
            new, updated = load_chunks(
                config.uri, options.get('user', [config.user])[-1],
                password, report.valid, vectors, embedder.model_name(),
                embedder.dimension(), database=config.database or None,
                index_name=config.index_name, label=config.label)
        except ChunkStoreUnavailable as e:
            raise AdminCommandError(str(e))
        printout(_("Loaded %(n)d chunks into %(uri)s: %(new)d new, "
                   "%(updated)d updated, %(rejected)d rejected",
                   n=len(report.valid), uri=config.uri, new=new,
                   updated=updated, rejected=len(report.rejected)))

    # Internal methods

    def _store(self):
        return LearningChunkStore(self.env).store

    def _read(self, args):
        """Validate the chunks of the file or starter corpus in `args`,
        with the store's chunks as context for prerequisite names."""
        if list(args) == ['--starter']:
            chunks = []
            for path in starter_corpus_paths():
                report = validate_jsonl(path)
                chunks.extend(report.valid)
            return validate_chunks(chunks)
        if len(args) != 1 or args[0].startswith('--'):
            raise AdminCommandError(_("Name a JSON Lines file, or "
                                      "--starter."), show_usage=True)
        try:
            report = validate_jsonl(args[0], min_words=IMPORT_MIN_WORDS,
                                    max_words=SPEC_MAX_WORDS)
        except (OSError, CorpusError) as e:
            raise AdminCommandError(_("Cannot read %(path)s: %(error)s",
                                      path=args[0], error=e))
        if report.ok:
            return report
        # Prerequisites may name concepts already in the store: check the
        # file's chunks again together with those.
        raw = []
        with open(args[0], encoding='utf-8') as f:
            for line in f:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue  # reported by the first pass
                if isinstance(item, dict):
                    raw.append(item)
        ids = {item.get('id') for item in raw}
        stored = [c for c in self._store().iter_chunks()
                  if c['id'] not in ids]
        combined = validate_chunks(stored + raw, min_words=IMPORT_MIN_WORDS,
                                   max_words=SPEC_MAX_WORDS)
        lines = [p for p in report.rejected if p.where.startswith('line ')]
        return combined._replace(
            valid=[c for c in combined.valid if c['id'] in ids],
            rejected=lines + [p for p in combined.rejected
                              if p.where in ids],
            warnings=[p for p in combined.warnings if p.where in ids])

    def _differs(self, chunk, stored):
        if stored is None:
            return True
        return any(chunk.get(f) != stored.get(f) for f in CHUNK_FIELDS) or \
            stored.get('embedding_model') not in (
                None, LearningEmbedder(self.env).embedder.model_name())

    def _embed(self, embedder, chunks):
        try:
            return embedder.embed([chunk_text(c) for c in chunks])
        except EmbeddingUnavailable as e:
            raise AdminCommandError(_("The embedder is unavailable: "
                                      "%(error)s", error=e))
