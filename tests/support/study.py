"""Learning paths to study in tests: a learner's concepts made the way a
learner makes them, through the API."""

# The ticket page and the chunk store: a stub knows only imported modules.
import trac.ticket.web_ui  # noqa: F401

import tracl.search.local_store  # noqa: F401

from support.corpus import fill_store
from support.sessions import browser_session
from support.web import call

#: A query of the starter corpus whose path has prerequisite links
#: ('Digital Signatures' needs 'Cryptographic Hash Functions').
BLOCKCHAIN = 'I want to understand blockchain technology'

#: Concepts of BLOCKCHAIN's path: 'Blocks and Chaining' needs both
#: 'Distributed Ledgers' and 'Merkle Trees' (and the hash functions, which
#: this path does not hold).
LEDGERS, MERKLE, BLOCKS = ('Distributed Ledgers', 'Merkle Trees',
                           'Blocks and Chaining')

#: Own-words answers (paraphrases, not copies, of the starter corpus) the
#: offline grader scores above the mastery threshold (about 0.93 and 0.92).
GOOD_ANSWERS = {
    LEDGERS: "A distributed ledger keeps the record of transactions on many "
             "separate computers rather than one central authority. New "
             "entries are only appended, so the history is extended, not "
             "edited, and every node can check the whole record itself. "
             "Getting them to agree is the hard part.",
    MERKLE: "A Merkle tree, also called a hash tree, summarizes a big set of "
            "items with one hash at the top, the Merkle root. Every parent "
            "depends on its two children, so editing one item changes each "
            "hash up to the root. A block header only needs to store the "
            "root, and a light client can still verify that a transaction "
            "is included without downloading all of them.",
}

#: An answer that shows no understanding of anything.
WEAK_ANSWER = "It is some kind of computer thing, I am not sure what it does."


def learner_headers(env, sub, groups=('Students',)):
    """`(cookies, headers)` of a signed-in browser of `sub`, ready for
    writes (X-CSRF-Token)."""
    cookies = browser_session(env, sub, groups=groups)
    return cookies, {'X-CSRF-Token': cookies['trac_form_token']}


def make_path(env, sub, query=BLOCKCHAIN, fill=True):
    """Create `sub`'s learning path for `query` through the API and return
    the create response (`path_id`, `tickets` with their prerequisites)."""
    if fill:
        fill_store(env)
    cookies, headers = learner_headers(env, sub)
    response = call(env, 'POST', '/api/v1/learning-paths/create',
                    body={'query': query}, cookies=cookies, headers=headers)
    assert response.status == 201, response
    return response.json()


def gated_pair(path):
    """`(prerequisite, concept)` ticket ids of a link in `path`."""
    for ticket in path['tickets']:
        if ticket['prerequisites']:
            return ticket['prerequisites'][0], ticket['ticket_id']
    raise AssertionError('the path has no prerequisite link')
