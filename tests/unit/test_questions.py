"""The question store and the questions concepts ask (SQLite and
PostgreSQL): the `questions` table and its upgrade, picking a chunk's
question by difficulty, storing a question once (also under concurrency),
refusing one that breaks the rubric rules, importing question files, path
creation with a stored question or one the provider writes (once, for
every learner), and the study loop grading against the current question's
rubric."""

import json
import re
import threading
import time

import pytest
# The ticket and wiki modules, as a real environment loads them: the
# ticket page and Trac 1.6's permission policies need them.
import trac.ticket.web_ui  # noqa: F401
import trac.wiki.web_ui  # noqa: F401
from trac.admin.api import AdminCommandManager
from trac.core import Component, implements

import tracl.environment
from support.api_client import LearnerClient
from support.study import BLOCKCHAIN
from tracl.api import ILLMProvider
from tracl.corpus import load_starter_corpus, load_starter_questions
from tracl.llm import Evaluation, GeneratedQuestion
from tracl.llm.offline import OfflineLLMProvider
from tracl.model import questions as store
from tracl.model.concepts import load_concept
from tracl.model.rubrics import (KeyPoint, Misconception, QuestionError,
                                 sentences)
from tracl.schema import dialect, sql
from tracl.study.loop import QuestionChanged, StudyLoop
from tracl.study.paths import LearningPaths, NoQuestionWritten

ALICE, BOB = 'sub-alice', 'sub-bob'

HOSTILE = '<script>alert("pwned")</script> & {{ 7*7 }}'


class RubricWriter(Component):
    """A provider that writes a question with a rubric from the chunk's
    first two sentences (a rubric naming a sentence the chunk lacks for the
    concepts in `bad_rubrics`, that many times), and records what it is
    asked to grade."""

    implements(ILLMProvider)

    model = 'rubric-test-1'

    def __init__(self):
        self.bad_rubrics = {}
        self.question_calls = 0
        self.evaluations = []
        self.score = 0.9
        self.feedback = 'You explain the idea well.'

    def academic_sentences(self, query):
        return OfflineLLMProvider(self.env).academic_sentences(query)

    def generate_question(self, concept, content, difficulty, query):
        self.question_calls += 1
        first, second = sentences(content)[:2]
        source = 1
        if self.bad_rubrics.get(concept):
            self.bad_rubrics[concept] -= 1
            source = len(sentences(content)) + 7
        return GeneratedQuestion(
            'What does the text explain about %s?' % concept,
            first + ' ' + second, difficulty,
            key_points=(KeyPoint(first, [source]), KeyPoint(second, [2])),
            misconceptions=(Misconception(
                'It has nothing to do with %s.' % concept,
                'It is exactly what %s is about.' % concept),))

    def evaluate(self, question, expected_answer, answer, context,
                 rubric=None):
        self.evaluations.append({'question': question, 'rubric': rubric,
                                 'expected_answer': expected_answer})
        return Evaluation(score=self.score, feedback=self.feedback,
                          grader='rubric-test', grader_version='1')

    def concurrent_calls(self):
        return 1

    def describe(self):
        return 'rubric writer %r %r' % (self.score, self.feedback)


PROVIDER = [('learning', 'llm_provider', 'RubricWriter'),
            ('learning', 'api_rate_limit', '0')]

pytestmark = pytest.mark.learning_env(enable=[RubricWriter], config=PROVIDER,
                                      starter_chunks=True)


@pytest.fixture
def writer(env):
    return RubricWriter(env)


def starter_contents():
    return {chunk['id']: chunk['content'] for chunk in load_starter_corpus()}


def starter_question(chunk_id=None, index=0):
    found = [q for q in load_starter_questions()
             if chunk_id is None or q['chunk_id'] == chunk_id]
    return dict(found[index])


def import_starter_questions(env):
    return store.import_questions(env, load_starter_questions(),
                                  starter_contents())


def count(env, table, where='', args=()):
    return env.db_query(sql(env, 'SELECT COUNT(*) FROM %s %s'
                            % (table, where)), args)[0][0]


def blockchain_chunks(env, n=2):
    found = LearningPaths(env).preview(BLOCKCHAIN, ALICE)['chunks']
    return [c['chunk_id'] for c in found][:n]


# The table -----------------------------------------------------------------

def test_a_question_out_of_difficulty_or_repeated_is_refused(env):
    row = ('bc_01', 'What is it?', 'It is a thing.', '{}', 'starter', 1)
    insert = sql(env, """
        INSERT INTO {questions} (chunk_id, difficulty, question,
            expected_answer, rubric, author, created_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s)""")
    env.db_transaction(insert, (row[0], 3) + row[1:])
    with pytest.raises(env.db_exc.IntegrityError):
        env.db_transaction(insert, (row[0], 6) + row[1:])
    with pytest.raises(env.db_exc.IntegrityError):
        env.db_transaction(insert, (row[0], 2) + row[1:])
    assert count(env, '{questions}') == 1


def test_a_version_2_environment_upgrades_keeping_its_concepts(
        make_env, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(tracl.environment, 'SCHEMA_VERSION', 2)
        env = make_env()
    with env.db_transaction as db:
        db("""INSERT INTO ticket (id, type, time, changetime, summary,
                                  owner, status, description)
              VALUES (7, 'learning_concept', 0, 0, 'Hashes', %s, 'new',
                      'Hash text.')""", (ALICE,))
        db("INSERT INTO ticket_custom (ticket, name, value) "
           "VALUES (7, 'question', 'What is a hash?')")
        db(sql(env, """INSERT INTO {concept_metadata} (ticket_id, chunk_id,
                           expected_answer, created_at)
                       VALUES (7, 'bc_01', 'A digest.', 0)"""))
    setup = tracl.environment.LearningEnvironmentSetup(env)
    assert setup.environment_needs_upgrade()
    setup.upgrade_environment()
    assert not setup.environment_needs_upgrade()

    concept = load_concept(env, 7)
    assert (concept.question, concept.expected_answer) == \
        ('What is a hash?', 'A digest.')
    assert concept.question_id is None and concept.rubric is None
    stored = store.store_question(env, starter_question('bc_01'),
                                  starter_contents()['bc_01'], 'starter')
    env.db_transaction(sql(env, "UPDATE {concept_metadata} SET question_id=%s"
                           " WHERE ticket_id=7"), (stored.id,))
    assert load_concept(env, 7).question_id == stored.id


# The store -----------------------------------------------------------------

def test_the_question_nearest_the_difficulty_is_picked_oldest_first(env):
    contents = starter_contents()
    chunk_id = next(q['chunk_id'] for q in load_starter_questions()
                    if sum(o['chunk_id'] == q['chunk_id']
                           for o in load_starter_questions()) > 1)
    records = [q for q in load_starter_questions()
               if q['chunk_id'] == chunk_id]
    low, high = sorted(records, key=lambda q: q['difficulty'])[:2]
    assert low['difficulty'] < high['difficulty']
    first = store.store_question(env, low, contents[chunk_id], 'starter')
    second = store.store_question(env, high, contents[chunk_id], 'starter')
    # A later question at the same difficulty as the first one.
    twin = dict(low, question=low['question'][:-1] + ', in short?')
    store.store_question(env, twin, contents[chunk_id], 'offline')

    assert store.pick_question(env, chunk_id, low['difficulty']).id == \
        first.id
    assert store.pick_question(env, chunk_id, high['difficulty']).id == \
        second.id
    assert store.pick_question(env, 'no_such_chunk', 3) is None
    listed = store.chunk_questions(env, chunk_id)
    assert [q.difficulty for q in listed] == sorted(q.difficulty
                                                    for q in listed)
    assert len(listed) == 3


def test_a_stored_question_keeps_its_rubric(env):
    record = starter_question('bc_01')
    stored = store.store_question(env, record, starter_contents()['bc_01'],
                                  'starter')
    loaded = store.load_question(env, stored.id)
    assert loaded == stored
    written = loaded.as_question().as_json()
    for field in ('chunk_id', 'question', 'difficulty', 'expected_answer',
                  'key_points'):
        assert written[field] == record[field]
    assert written['misconceptions'] == record.get('misconceptions', [])
    assert loaded.author == 'starter'


def test_storing_the_same_question_twice_keeps_one_row(env):
    record = starter_question('bc_01')
    content = starter_contents()['bc_01']
    first = store.store_question(env, record, content, 'starter')
    again = store.store_question(env, record, content, 'anthropic:x')
    assert again.id == first.id and again.author == 'starter'
    assert count(env, '{questions}') == 1


def test_a_question_breaking_the_rubric_rules_is_not_stored(env):
    record = starter_question('bc_01')
    record['key_points'] = [dict(record['key_points'][0], sources=[99])]
    with pytest.raises(QuestionError) as refused:
        store.store_question(env, record, starter_contents()['bc_01'],
                             'offline')
    assert 'key points' in str(refused.value)
    assert 'sentence 99' in str(refused.value)
    assert count(env, '{questions}') == 0


@pytest.mark.postgres
def test_two_learners_storing_one_question_at_once_write_it_once(env):
    if dialect(env) != 'postgres':
        pytest.skip('SQLite has one writer at a time')
    record = starter_question('bc_01')
    content = starter_contents()['bc_01']
    stored_first = threading.Event()
    ids, errors = {}, []

    def first():
        try:
            with env.db_transaction as db:
                ids['first'] = store.store_question(env, record, content,
                                                    'offline', db=db).id
                stored_first.set()
                # The second insert waits on this one's uncommitted row.
                time.sleep(0.5)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
            stored_first.set()

    def second():
        stored_first.wait(10)
        try:
            ids['second'] = store.store_question(env, record, content,
                                                 'offline').id
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert ids['first'] == ids['second']
    assert count(env, '{questions}') == 1


def test_an_import_reports_new_existing_and_rejected_questions(env):
    good = starter_question('bc_01')
    bad = dict(starter_question('bc_02'), key_points=[])
    unknown = dict(starter_question('bc_03'), chunk_id='not_a_chunk')
    report = store.import_questions(
        env, [good, good, bad, unknown, 'text'], starter_contents())
    assert (report.added, report.existing) == (1, 1)
    reasons = dict(report.rejected)
    assert set(reasons) == {'question 3', 'question 4', 'question 5'}
    assert 'key points' in reasons['question 3']
    assert 'not in the chunk store' in reasons['question 4']
    assert 'JSON object' in reasons['question 5']


def test_questions_import_and_list_commands(env, tmp_path, capsys):
    good = starter_question('bc_01')
    path = tmp_path / 'questions.jsonl'
    path.write_text('\n'.join([
        json.dumps(good), '{not json',
        json.dumps(dict(good, chunk_id='nowhere')), ''
    ]), encoding='utf-8')
    manager = AdminCommandManager(env)
    assert manager.execute_command('learning', 'questions', 'import',
                                   str(path)) in (None, 0)
    out = capsys.readouterr().out
    assert 'rejected line 2: not valid JSON' in out
    assert "rejected line 3: chunk 'nowhere' is not in the chunk store" \
        in out
    assert '1 new questions, 0 already stored, 2 rejected' in out

    manager.execute_command('learning', 'questions', 'list', 'bc_01')
    out = capsys.readouterr().out
    assert good['question'] in out and '(starter, ' in out
    manager.execute_command('learning', 'questions', 'list', 'bc_01',
                            '--json')
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line['question'] == good['question'] and line['id'] >= 1


# Path creation -----------------------------------------------------------

def question_ids(env, ticket_ids):
    return {ticket_id: qid for ticket_id, qid in env.db_query(sql(env, """
        SELECT ticket_id, question_id FROM {concept_metadata}
        WHERE ticket_id IN (%s)""" % ','.join(['%s'] * len(ticket_ids))),
        ticket_ids)}


def test_a_new_concept_asks_the_chunks_stored_starter_question(env, writer):
    import_starter_questions(env)
    ids = blockchain_chunks(env)
    created = LearningPaths(env).create(ALICE, BLOCKCHAIN, chunk_ids=ids)
    assert writer.question_calls == 0
    tickets = created.tickets
    stored = {t['ticket_id']: qid for t in tickets
              for qid in [question_ids(env, [t['ticket_id']])
                          [t['ticket_id']]]}
    for ticket in tickets:
        question = store.load_question(env, stored[ticket['ticket_id']])
        assert question.author == 'starter'
        assert ticket['question'] == question.question
        concept = load_concept(env, ticket['ticket_id'])
        assert concept.question == question.question
        assert concept.expected_answer == question.expected_answer
        assert concept.rubric == question.rubric
        # The ticket keeps the first question, as Trac shows it.
        assert env.db_query("SELECT value FROM ticket_custom WHERE ticket=%s"
                            " AND name='question'", (ticket['ticket_id'],)
                            )[0][0] == question.question


def test_a_provider_writes_a_chunks_question_once_for_every_learner(
        env, writer):
    ids = blockchain_chunks(env, 1)
    alice = LearningPaths(env).create(ALICE, BLOCKCHAIN, chunk_ids=ids)
    bob = LearningPaths(env).create(BOB, BLOCKCHAIN, chunk_ids=ids)
    assert writer.question_calls == 1
    first = question_ids(env, [alice.tickets[0]['ticket_id']])
    second = question_ids(env, [bob.tickets[0]['ticket_id']])
    assert list(first.values()) == list(second.values()) != [None]
    question = store.load_question(env, list(first.values())[0])
    assert question.author == 'rubric_writer:rubric-test-1'
    assert len(question.rubric.key_points) == 2
    assert count(env, '{questions}') == 1
    assert env.db_query(sql(env, "SELECT question_generated FROM "
                            "{concept_metadata}"))[0][0]


def test_a_rubric_breaking_the_rules_is_asked_again_once(env, writer):
    ids = blockchain_chunks(env, 1)
    concept = LearningPaths(env).preview(BLOCKCHAIN, ALICE)['chunks'][0][
        'concept']
    writer.bad_rubrics = {concept: 1}
    created = LearningPaths(env).create(ALICE, BLOCKCHAIN, chunk_ids=ids)
    assert writer.question_calls == 2
    assert created.skipped == [] and len(created.tickets) == 1


def test_a_chunk_whose_rubric_stays_invalid_is_skipped_and_reported(
        env, writer):
    found = LearningPaths(env).preview(BLOCKCHAIN, ALICE)['chunks'][:2]
    writer.bad_rubrics = {found[0]['concept']: 2}
    created = LearningPaths(env).create(
        ALICE, BLOCKCHAIN, chunk_ids=[c['chunk_id'] for c in found])
    assert [s['chunk_id'] for s in created.skipped] == \
        [found[0]['chunk_id']]
    assert 'rubric' in created.skipped[0]['reason']
    assert [t['concept'] for t in created.tickets] == [found[1]['concept']]
    assert count(env, '{questions}') == 1


def test_when_no_rubric_is_sound_nothing_is_written(env, writer):
    found = LearningPaths(env).preview(BLOCKCHAIN, ALICE)['chunks'][:2]
    writer.bad_rubrics = {c['concept']: 2 for c in found}
    with pytest.raises(NoQuestionWritten) as refused:
        LearningPaths(env).create(ALICE, BLOCKCHAIN,
                                  chunk_ids=[c['chunk_id'] for c in found])
    assert len(refused.value.skipped) == 2
    for table in ('{questions}', '{paths}', '{concept_metadata}', 'ticket'):
        assert count(env, table) == 0, table


# The study loop ------------------------------------------------------------

@pytest.fixture
def concept(env, writer):
    import_starter_questions(env)
    created = LearningPaths(env).create(ALICE, BLOCKCHAIN,
                                        chunk_ids=blockchain_chunks(env, 1))
    return load_concept(env, created.tickets[0]['ticket_id'])


def test_an_answer_is_graded_against_the_current_questions_rubric(
        env, writer, concept):
    result = StudyLoop(env).submit(ALICE, concept,
                                   'A digest works like a fingerprint.')
    graded = writer.evaluations[-1]
    assert graded['rubric'] == concept.rubric and concept.rubric.key_points
    assert graded['question'] == concept.question
    assert result.question_id == concept.question_id
    assert env.db_query(sql(env, "SELECT question_id FROM {attempts}"))[0][0] \
        == concept.question_id


def test_an_answer_to_a_question_no_longer_asked_is_refused(
        env, writer, concept):
    with pytest.raises(QuestionChanged):
        StudyLoop(env).submit(ALICE, concept, 'An answer to an old one.',
                              question_id=concept.question_id + 1)
    assert count(env, '{attempts}') == 0 and writer.evaluations == []


def test_submit_answer_api_takes_and_returns_the_question_id(
        env, writer, concept):
    alice = LearnerClient(env, ALICE)
    url = '/progress/%d/submit-answer' % concept.ticket_id
    changed = alice.api('PUT', url, {'answer': 'An answer to an old one.',
                                     'question_id': concept.question_id + 5})
    assert changed.status == 409, changed
    error = changed.json()['error']
    assert error['code'] == 'question_changed'
    assert error['current_question_id'] == concept.question_id
    assert 'reload' in error['message'].lower()

    invalid = alice.api('PUT', url, {'answer': 'An answer, of some length.',
                                     'question_id': 'first'})
    assert invalid.status == 400, invalid

    graded = alice.api('PUT', url, {'answer': 'A digest is a fingerprint.',
                                    'question_id': concept.question_id})
    assert graded.status == 200, graded
    assert graded.json()['question_id'] == concept.question_id
    assert count(env, '{attempts}') == 1


@pytest.mark.learning_env(enable=[RubricWriter], config=PROVIDER,
                          starter_chunks=True, default_data=True,
                          trac_policies=True)
def test_the_concept_page_shows_the_current_question_and_escaped_feedback(
        env, writer, concept):
    # The concept moves on to another of its chunk's questions: the page
    # asks that one, while the ticket keeps the first.
    record = dict(starter_question(concept_chunk(env, concept)),
                  question='Which <b>sentence</b> & idea matter most here?')
    newer = store.store_question(env, record, starter_contents()[
        record['chunk_id']], 'starter')
    env.db_transaction(sql(env, "UPDATE {concept_metadata} SET question_id=%s"
                           " WHERE ticket_id=%s"),
                       (newer.id, concept.ticket_id))
    writer.feedback = 'You wrote "%s". Say why it matters.' % HOSTILE
    # Short of mastery: a mastering answer would move the concept on to
    # its next review's question.
    writer.score = 0.5
    StudyLoop(env).submit(ALICE, load_concept(env, concept.ticket_id),
                          'My answer quotes %s here.' % HOSTILE)

    page = LearnerClient(env, ALICE).ticket(concept.ticket_id)
    assert page.status == 200, page
    data = json.loads(re.search(r'^\s*var tracl_concept=(.*);$', page.text,
                                re.M).group(1))
    assert data['question_id'] == newer.id
    panel = data['panel']
    assert 'Which &lt;b&gt;sentence&lt;/b&gt; &amp; idea matter most ' \
        'here?' in panel
    assert '<script>' not in panel and '<b>sentence' not in panel
    assert 'You wrote &#34;&lt;script&gt;' in panel or \
        'You wrote &quot;&lt;script&gt;' in panel
    assert 'Say why it matters.' in panel


def concept_chunk(env, concept):
    return env.db_query(sql(env, "SELECT chunk_id FROM {concept_metadata} "
                            "WHERE ticket_id=%s"), (concept.ticket_id,))[0][0]
