"""Foundations: the chunks a search's results need first.

A chunk names its prerequisites by concept name within its subject, in its
own `has_prerequisite` or in another chunk's `prerequisite_for`. A search
returns what the query is about; the concepts those build on are often
not among the results ("I want to understand blockchain" finds Merkle
trees and blocks, not the hash functions both need). A path without them
gates nothing on them and never tells the learner they are missing, so
the search adds them, as foundations.

`PrerequisiteGraph` resolves the names of a set of chunks into links and
walks them (the in-process store keeps one per load); `choose_foundations`
applies the cap, the same for every store.
"""

from tracl.model.chunks import prerequisite_names


class PrerequisiteGraph(object):
    """The prerequisite links between chunks, by chunk id; never changed
    once built."""

    def __init__(self, chunks):
        """Links of `chunks` (dicts with `id`, `subject`, `concept`,
        `has_prerequisite`, `prerequisite_for`). A name that matches no
        concept of the subject links nothing; two chunks never have one
        concept name in a subject (the store refuses it)."""
        chunks = list(chunks)
        # Names match exactly, as when a path links its concepts
        # (`tracl.model.paths`), so every foundation found also gates.
        by_name = {(c['subject'], c['concept']): c['id'] for c in chunks}
        needs = {}
        for chunk in chunks:
            subject = chunk['subject']
            for name in prerequisite_names(chunk.get('has_prerequisite')):
                found = by_name.get((subject, name))
                if found is not None and found != chunk['id']:
                    needs.setdefault(chunk['id'], set()).add(found)
            for name in prerequisite_names(chunk.get('prerequisite_for')):
                found = by_name.get((subject, name))
                if found is not None and found != chunk['id']:
                    needs.setdefault(found, set()).add(chunk['id'])
        self.needs = {chunk_id: sorted(found)
                      for chunk_id, found in needs.items()}

    def closure(self, chunk_ids):
        """`IChunkStore.prerequisite_closure`: `{chunk_id: [ids among
        chunk_ids that need it]}` for every chunk reached from
        `chunk_ids` that is not among them."""
        chosen = list(dict.fromkeys(chunk_ids))
        wanted = set(chosen)
        needed_by = {}
        for start in chosen:
            seen, frontier = {start}, [start]
            while frontier:
                for prerequisite in self.needs.get(frontier.pop(), ()):
                    if prerequisite in seen:
                        continue
                    seen.add(prerequisite)
                    frontier.append(prerequisite)
                    if prerequisite not in wanted:
                        needed_by.setdefault(prerequisite, []).append(start)
        return needed_by


def choose_foundations(closure, cosines, cap):
    """The foundation ids to add, at most `cap`: first those most of the
    chosen chunks need, then those nearest the query (`cosines`, by id;
    a missing one counts as unrelated), then by id for a stable order."""
    if cap <= 0:
        return []
    ranked = sorted(closure, key=lambda chunk_id: (
        -len(closure[chunk_id]), -cosines.get(chunk_id, -1.0), chunk_id))
    return ranked[:cap]
