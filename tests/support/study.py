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

#: Own-words answers (paraphrases, not copies, of the starter corpus) to the
#: concepts' starter questions, stating every key point of their rubrics:
#: the offline grader masters them (about 0.95 and 0.93).
GOOD_ANSWERS = {
    LEDGERS: "A bank keeps a single central ledger that everyone has to "
             "trust, but a distributed ledger is copied on many independent "
             "computers, so there is no single point of trust or failure and "
             "no institution can quietly alter the history. Each node keeps "
             "its own copy and follows a shared protocol that decides which "
             "new entries are valid and in what order they are added. The "
             "hardest problem is agreement: the honest nodes must converge "
             "on the same sequence of entries even when some participants "
             "are offline, slow or dishonest.",
    'Public-Key Cryptography':
        "Every user has a private key that stays secret and a public "
        "key that can be shared with anyone. The public key is easy to "
        "compute from the private key, but getting the private key back "
        "from the public key is computationally infeasible. In a "
        "blockchain the pair is used for identity and authorization, "
        "not for keeping data secret: the public key or its hash is "
        "your address, and only the holder of the matching private key "
        "can authorize spending the funds sent there.",
    MERKLE: "You hash every transaction into a leaf, then pair up the "
            "hashes, join each pair and hash it again, level by level, "
            "until one root hash is left. Editing any transaction changes "
            "every hash on its way up to the root, so the root commits to "
            "the entire set. A Merkle proof needs only the transaction and "
            "the sibling hashes along its path, about log2(n) hashes rather "
            "than the whole block; the light client recomputes the path and "
            "checks that it reaches the root kept in the block header.",
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
