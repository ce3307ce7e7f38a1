"""`LearningPaths`, the service behind the learning-paths API, called
directly on an `EnvironmentStub` (SQLite and PostgreSQL): previews are
cached, a path is written in one transaction after every question, a
failed write leaves nothing behind (Trac's own caches included), questions
are written as many at a time as the provider takes, and a new or opened
path becomes the learner's active path and retires their cached views.
"""

import threading

import pytest
from trac.cache import CacheManager
from trac.db.api import TransactionContextManager
from trac.ticket.model import Milestone

import tracl.model.paths
import tracl.study.paths
from support.providers import ScriptedLLMProvider
from support.study import BLOCKCHAIN
from tracl.cache import LearningCache
from tracl.llm.anthropic_provider import AnthropicLLMProvider
from tracl.llm.offline import OfflineLLMProvider
from tracl.schema import sql
from tracl.study.paths import (LearningPaths, NoQuestionWritten,
                               NothingToLearn, PathNotSaved, UnknownChunks)

ALICE, BOB = 'sub-alice', 'sub-bob'

OFF_TOPIC = 'how to bake sourdough bread'

#: The tables a path is written to.
PATH_TABLES = ('{paths}', '{path_concepts}', '{concept_metadata}',
               '{prerequisites}', 'ticket', 'ticket_custom', 'milestone')


# The scripted provider counts the academic sentences a search costs, and
# the questions it was asked for at once.
pytestmark = pytest.mark.learning_env(provider=True, starter_chunks=True)


@pytest.fixture
def paths(env):
    return LearningPaths(env)


def use_declaring_provider(env, declared):
    """The provider, declaring `declared` calls at once, its questions
    each taking a moment as a remote model's do."""
    provider = ScriptedLLMProvider(env)
    provider.declared_calls = declared
    provider.question_delay = 0.15
    return provider


def rows(env):
    return {table: env.db_query(sql(env, "SELECT COUNT(*) FROM " + table))
            [0][0] for table in PATH_TABLES}


def chunk_ids(paths, query=BLOCKCHAIN, sub=ALICE, count=None):
    return [c['chunk_id'] for c in paths.preview(query, sub)['chunks']][:count]


def count_outermost_transactions(env, patch):
    """Count the transactions that commit or roll back on their own (a
    nested `db_transaction` joins the one around it)."""
    opened = []

    class Counting(TransactionContextManager):
        def __enter__(self):
            if not self.dbmgr._transaction_local.wdb:
                opened.append(1)
            return super().__enter__()
    patch.setattr(type(env), 'db_transaction',
                  property(lambda self: Counting(self)))
    return opened


# preview -------------------------------------------------------------------

def test_a_preview_is_cached_per_learner_and_query(env, paths):
    llm = ScriptedLLMProvider(env)
    first = paths.preview(BLOCKCHAIN, ALICE)
    again = paths.preview(BLOCKCHAIN, ALICE)
    assert first['cached'] is False and again['cached'] is True
    assert again['chunks'] == first['chunks'] and first['chunks']
    assert llm.sentence_calls == 1
    # Another learner's results are their own, made anew.
    assert paths.preview(BLOCKCHAIN, BOB)['cached'] is False


def test_a_preview_of_nothing_relevant_says_so(paths):
    found = paths.preview(OFF_TOPIC, ALICE)
    assert found['chunks'] == [] and found['message']


# create --------------------------------------------------------------------

def test_create_writes_the_path_in_one_transaction_after_every_question(
        env, paths, monkeypatch):
    provider = use_declaring_provider(env, 4)
    ids = chunk_ids(paths, count=6)
    write = tracl.study.paths.create_learning_path
    seen = {}

    def counted_write(*args, **kwargs):
        seen['questions before writing'] = provider.question_calls
        seen['version before writing'] = \
            LearningCache(env).progress_version(ALICE)
        with pytest.MonkeyPatch.context() as patch:
            transactions = count_outermost_transactions(env, patch)
            try:
                return write(*args, **kwargs)
            finally:
                seen['transactions'] = len(transactions)
    monkeypatch.setattr(tracl.study.paths, 'create_learning_path',
                        counted_write)

    created = paths.create(ALICE, BLOCKCHAIN, chunk_ids=ids)
    assert seen == {'questions before writing': 6,
                    'version before writing': 0, 'transactions': 1}
    assert [t['reused'] for t in created.tickets] == [False] * 6
    assert all(t['question'] for t in created.tickets)
    assert created.skipped == []
    assert rows(env)['{path_concepts}'] == 6


def test_concepts_the_learner_has_are_reused_with_their_question(paths):
    ids = chunk_ids(paths, count=3)
    first = paths.create(ALICE, BLOCKCHAIN, chunk_ids=ids)
    again = paths.create(ALICE, BLOCKCHAIN, chunk_ids=ids)
    assert [t['reused'] for t in again.tickets] == [True] * 3
    assert [(t['ticket_id'], t['question']) for t in again.tickets] == \
        [(t['ticket_id'], t['question']) for t in first.tickets]


def test_chunks_outside_the_search_results_are_refused(env, paths):
    with pytest.raises(UnknownChunks) as refused:
        paths.create(ALICE, BLOCKCHAIN,
                     chunk_ids=chunk_ids(paths, count=2) + ['qc_04'])
    assert refused.value.chunk_ids == ['qc_04']
    assert rows(env) == dict.fromkeys(PATH_TABLES, 0)


def test_a_query_finding_nothing_makes_no_path(env, paths):
    with pytest.raises(NothingToLearn):
        paths.create(ALICE, OFF_TOPIC)
    assert rows(env) == dict.fromkeys(PATH_TABLES, 0)


def test_when_no_question_is_written_nothing_is_written(env, paths):
    provider = use_declaring_provider(env, 1)
    provider.failing_questions = True
    with pytest.raises(NoQuestionWritten) as refused:
        paths.create(ALICE, BLOCKCHAIN, chunk_ids=chunk_ids(paths, count=3))
    assert len(refused.value.skipped) == 3
    assert all('quota exhausted' in s['reason']
               for s in refused.value.skipped)
    assert rows(env) == dict.fromkeys(PATH_TABLES, 0)


def fail_fourth_ticket(env, monkeypatch):
    original = tracl.model.paths._insert_concept_ticket
    calls = []

    def insert(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise env.db_exc.OperationalError(
                'injected: server closed the connection unexpectedly')
        return original(*args, **kwargs)
    monkeypatch.setattr(tracl.model.paths, '_insert_concept_ticket', insert)


def test_a_failed_write_rolls_back_and_repairs_tracs_caches(
        env, paths, monkeypatch):
    ids = chunk_ids(paths, count=6)
    before = paths.paths(ALICE)
    fail_fourth_ticket(env, monkeypatch)

    with pytest.raises(PathNotSaved):
        paths.create(ALICE, BLOCKCHAIN, chunk_ids=ids)

    assert rows(env) == dict.fromkeys(PATH_TABLES, 0)
    # Trac read its milestones inside the rolled-back transaction: the
    # milestone made for the path's subject must not linger in its cache,
    # in this request or the next.
    assert list(Milestone.select(env, include_completed=True)) == []
    CacheManager(env).reset_metadata()
    assert list(Milestone.select(env, include_completed=True)) == []
    # Nothing to retire: the learner's views and active path stay.
    assert LearningCache(env).progress_version(ALICE) == 0
    assert paths.active_path(ALICE) is None
    assert paths.paths(ALICE) == before == []

    monkeypatch.undo()
    created = paths.create(ALICE, BLOCKCHAIN, chunk_ids=ids)
    assert [m.name for m in Milestone.select(env)] == \
        sorted({t['subject'] for t in created.tickets})


# question-writing concurrency ----------------------------------------------

def test_a_provider_taking_one_call_writes_in_turn_on_the_callers_thread(
        env, paths):
    provider = use_declaring_provider(env, 1)
    paths.create(ALICE, BLOCKCHAIN, chunk_ids=chunk_ids(paths, count=4))
    assert provider.question_calls == 4
    assert provider.most_in_flight == 1
    assert provider.threads == {threading.get_ident()}


def test_a_provider_taking_several_calls_gets_as_many_at_once(env, paths):
    provider = use_declaring_provider(env, 3)
    created = paths.create(ALICE, BLOCKCHAIN,
                           chunk_ids=chunk_ids(paths, count=6))
    assert provider.question_calls == 6
    assert 1 < provider.most_in_flight <= 3
    # Whichever question came first, the path keeps the search's order.
    assert [t['concept'] for t in created.tickets] == \
        [c['concept'] for c in paths.preview(BLOCKCHAIN, ALICE)
         ['chunks'][:6]]


def test_question_concurrency_caps_what_the_provider_takes(env, paths):
    env.config.set('learning', 'question_concurrency', '2')
    provider = use_declaring_provider(env, 16)
    paths.create(ALICE, BLOCKCHAIN, chunk_ids=chunk_ids(paths, count=6))
    assert 1 < provider.most_in_flight <= 2


def test_the_shipped_providers_declare_their_concurrency(env):
    # Computed in this process: one at a time.
    assert OfflineLLMProvider(env).concurrent_calls() == 1
    # A remote API: several requests wait on the network together.
    assert AnthropicLLMProvider(env).concurrent_calls() > 1


# active path and invalidation ----------------------------------------------

def test_a_new_path_is_the_active_one_and_opening_another_switches(paths):
    assert paths.active_path(ALICE) is None
    first = paths.create(ALICE, BLOCKCHAIN,
                         chunk_ids=chunk_ids(paths, count=2))
    assert paths.active_path(ALICE) == first.path_id
    second = paths.create(ALICE, BLOCKCHAIN,
                          chunk_ids=chunk_ids(paths, count=3))
    assert paths.active_path(ALICE) == second.path_id

    # Reading a path (an admin's view) leaves the active path alone ...
    assert paths.path(ALICE, first.path_id)['path_id'] == first.path_id
    assert paths.active_path(ALICE) == second.path_id
    # ... opening it makes it active.
    assert paths.open(ALICE, first.path_id)['total'] == 2
    assert paths.active_path(ALICE) == first.path_id


def test_another_learners_path_is_not_found_and_not_activated(paths):
    path = paths.create(ALICE, BLOCKCHAIN,
                        chunk_ids=chunk_ids(paths, count=2))
    assert paths.open(BOB, path.path_id) is None
    assert paths.path(BOB, path.path_id) is None
    assert paths.active_path(BOB) is None


def test_a_new_path_retires_the_learners_cached_views(env, paths):
    first = paths.create(ALICE, BLOCKCHAIN,
                         chunk_ids=chunk_ids(paths, count=2))
    assert [p['path_id'] for p in paths.paths(ALICE)] == [first.path_id]
    version = LearningCache(env).progress_version(ALICE)
    bob_version = LearningCache(env).progress_version(BOB)

    second = paths.create(ALICE, BLOCKCHAIN,
                          chunk_ids=chunk_ids(paths, count=3))
    assert LearningCache(env).progress_version(ALICE) == version + 1
    assert LearningCache(env).progress_version(BOB) == bob_version
    listed = paths.paths(ALICE)
    assert {p['path_id'] for p in listed} == {first.path_id,
                                              second.path_id}
    assert {p['path_id']: p['total'] for p in listed} == \
        {first.path_id: 2, second.path_id: 3}
