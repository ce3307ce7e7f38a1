"""`trac-admin ENV learning prereq add | remove | list`.

Alice and Bob each have the blockchain path (concept tickets with the
corpus's prerequisite links). An admin links and unlinks Alice's concepts;
the model refuses what would break the graph.
"""

import re

import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager
from trac.ticket.model import Ticket

from support.study import gated_pair, make_path
from tracl.cache import LearningCache
from tracl.llm import Evaluation
from tracl.model.concepts import load_concept
from tracl.model.prerequisites import prerequisites_of
from tracl.model.progress import record_attempt

ALICE, BOB = 'sub-alice', 'sub-bob'
ALICE_USERNAME = 'user-sub-al'     # as support.sessions signs her in


@pytest.fixture
def admin(env):
    manager = AdminCommandManager(env)

    def run(*args):
        return manager.execute_command('learning', 'prereq', *args)
    return run


@pytest.fixture
def path(env):
    return make_path(env, ALICE)


@pytest.fixture
def free(path):
    """Three of Alice's concepts without prerequisites (no link between
    them, none can close a cycle yet)."""
    return [t['ticket_id'] for t in path['tickets']
            if not t['prerequisites']][:3]


def name_of(path, ticket_id):
    return next(t['concept'] for t in path['tickets']
                if t['ticket_id'] == ticket_id)


def prerequisite_ids(env, sub, ticket_id):
    return [p.ticket_id for p in prerequisites_of(env, sub, ticket_id)]


def table_rows(out):
    """The rows of a printed table, each a list of its cells."""
    lines = out.splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line) == {'-'})
    return [re.split(r'\s{2,}', line.strip()) for line in lines[rule + 1:]
            if line.strip()]


def test_add_list_and_remove_a_link(admin, env, path, free, capsys):
    concept, prerequisite = free[0], free[1]
    version = LearningCache(env).progress_version(ALICE)
    admin('add', '#%d' % concept, str(prerequisite))
    assert capsys.readouterr().out.strip() == \
        '#%d is now a prerequisite of #%d.' % (prerequisite, concept)
    assert prerequisite_ids(env, ALICE, concept) == [prerequisite]
    assert LearningCache(env).progress_version(ALICE) == version + 1

    # The concept's links: to its new prerequisite, from what it unlocks.
    admin('list', '#%d' % concept)
    rows = table_rows(capsys.readouterr().out)
    unlocks = [t['ticket_id'] for t in path['tickets']
               if concept in t['prerequisites']]
    assert sorted(rows) == sorted([[
        ALICE_USERNAME, '#%d %s' % (concept, name_of(path, concept)),
        '#%d %s' % (prerequisite, name_of(path, prerequisite)),
        'not_started']] + [[
            ALICE_USERNAME, '#%d %s' % (dependent, name_of(path, dependent)),
            '#%d %s' % (concept, name_of(path, concept)), 'not_started']
            for dependent in unlocks])

    admin('remove', str(concept), '#%d' % prerequisite)
    assert capsys.readouterr().out.strip() == \
        '#%d is no longer a prerequisite of #%d.' % (prerequisite, concept)
    assert prerequisite_ids(env, ALICE, concept) == []
    assert LearningCache(env).progress_version(ALICE) == version + 2


def test_list_of_a_learner_shows_every_link_and_her_status(admin, env, path,
                                                           capsys):
    prerequisite, concept = gated_pair(path)
    record_attempt(env, ALICE, load_concept(env, prerequisite),
                   'A hash maps any input to a fixed-size digest.',
                   Evaluation(1.0, 'Right.', 'test', '1'), 1.0, 'Right.',
                   None, 0, 0.8, lambda *args: 'Mastered in a test.')
    links = {(t['ticket_id'], p) for t in path['tickets']
             for p in t['prerequisites']}
    for who in (ALICE, ALICE_USERNAME):
        admin('list', who)
        rows = table_rows(capsys.readouterr().out)
        assert {(int(c.split()[0][1:]), int(p.split()[0][1:]))
                for _learner, c, p, _status in rows} == links, who
        statuses = {int(p.split()[0][1:]): status
                    for _learner, _c, p, status in rows}
        assert statuses[prerequisite] == 'mastered'
        assert set(statuses.values()) == {'mastered', 'not_started'}


def test_list_without_argument_shows_every_learner(admin, env, path, capsys):
    bob_path = make_path(env, BOB)
    admin('list')
    learners = [row[0] for row in table_rows(capsys.readouterr().out)]
    assert set(learners) == {ALICE_USERNAME, 'user-sub-bo'}
    assert len(learners) == sum(len(t['prerequisites'])
                                for p in (path, bob_path)
                                for t in p['tickets'])


def test_a_concept_is_not_its_own_prerequisite(admin, env, free):
    with pytest.raises(AdminCommandError, match='its own prerequisite'):
        admin('add', str(free[0]), '#%d' % free[0])
    assert prerequisite_ids(env, ALICE, free[0]) == []


def test_a_link_closing_a_cycle_is_refused(admin, env, free):
    a, b, c = free
    version = LearningCache(env).progress_version(ALICE)
    admin('add', str(a), str(b))    # a needs b
    admin('add', str(b), str(c))    # b needs c
    with pytest.raises(AdminCommandError, match='cycle'):
        admin('add', str(c), str(a))
    assert prerequisite_ids(env, ALICE, c) == []
    assert LearningCache(env).progress_version(ALICE) == version + 2


def test_concepts_of_two_learners_are_not_linked(admin, env, path):
    bob_concept = make_path(env, BOB)['tickets'][0]['ticket_id']
    alice_concept = path['tickets'][0]['ticket_id']
    with pytest.raises(AdminCommandError, match='different learners'):
        admin('add', str(alice_concept), str(bob_concept))
    assert bob_concept not in prerequisite_ids(env, ALICE, alice_concept)


def test_an_existing_link_is_not_added_twice(admin, env, path):
    prerequisite, concept = gated_pair(path)
    version = LearningCache(env).progress_version(ALICE)
    with pytest.raises(AdminCommandError, match='already a prerequisite'):
        admin('add', str(concept), str(prerequisite))
    assert LearningCache(env).progress_version(ALICE) == version


def test_unknown_tickets_and_other_tickets_are_refused(admin, env, free):
    defect = Ticket(env)
    defect.populate({'type': 'defect', 'summary': 'A bug',
                     'status': 'new', 'reporter': 'someone'})
    defect.insert()
    for other in ('9999', str(defect.id)):
        with pytest.raises(AdminCommandError,
                           match='#%s is not a learning concept' % other):
            admin('add', str(free[0]), other)
        with pytest.raises(AdminCommandError,
                           match='not a learning concept'):
            admin('list', '#' + other)
    for typo in ('twelve', '1.5', '12345678901'):
        with pytest.raises(AdminCommandError, match='not a ticket number'):
            admin('add', str(free[0]), typo)


def test_removing_a_missing_link_is_refused(admin, env, free):
    with pytest.raises(AdminCommandError, match='is not a prerequisite'):
        admin('remove', str(free[0]), str(free[1]))


def test_an_unknown_learner_is_refused(admin, path):
    with pytest.raises(AdminCommandError, match='No learner nobody'):
        admin('list', 'nobody')


def test_wrong_number_of_arguments_shows_the_usage(admin, free):
    with pytest.raises(AdminCommandError) as raised:
        admin('add', str(free[0]))
    assert raised.value.show_usage
