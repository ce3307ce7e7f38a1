"""The learning schema on SQLite and PostgreSQL: tables, keys, constraints,
cascades, the audit trigger and the views (spec 5.3, 7, 10.2, 11)."""

import uuid

import pytest
from trac.db.api import DatabaseManager
from trac.ticket.model import Milestone, Ticket, Type
from trac.util.datefmt import to_utimestamp, datetime_now, utc

from tracl.environment import (CONCEPT_TICKET_TYPE, CUSTOM_FIELDS,
                               LearningEnvironmentSetup)
from tracl.schema import (SCHEMA_VERSION, SCHEMA_VERSION_NAME, TABLES, VIEWS,
                          dialect, sql)

NOW = to_utimestamp(datetime_now(utc))


def new_concept(env, owner='sub-a', summary='Hash Functions',
                milestone=None):
    ticket = Ticket(env)
    ticket.populate({'type': CONCEPT_TICKET_TYPE, 'summary': summary,
                     'owner': owner, 'reporter': 'learning-system',
                     'status': 'new', 'milestone': milestone or '',
                     'question': 'Why ...?', 'question_difficulty': '3'})
    return ticket.insert()


def run(env, statement, args=()):
    with env.db_transaction as db:
        return db(sql(env, statement), args)


def query(env, statement, args=()):
    with env.db_query as db:
        return db(sql(env, statement), args)


def integrity_error(env):
    return env.db_exc.IntegrityError


def new_path(env, sub='sub-a', difficulty=3):
    path_id = str(uuid.uuid4())
    run(env, """INSERT INTO {paths} (id, title, query_text, cognito_user_id,
                created_at, total_chunks, question_difficulty)
                VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (path_id, 'Blockchain', 'I want to understand blockchain', sub, NOW,
         3, difficulty))
    return path_id


def add_progress(env, sub, ticket_id, status='studying', score=0.5):
    completed = NOW if status == 'mastered' else None
    run(env, """INSERT INTO {progress} (cognito_user_id, ticket_id, status,
                started_at, last_accessed, completed_at, answer_score,
                best_score) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (sub, ticket_id, status, NOW, NOW, completed, score, score))


def count(env, table, where='1=1', args=()):
    return query(env, 'SELECT COUNT(*) FROM {%s} WHERE %s' % (table, where),
                 args)[0][0]


class TestCreation:

    def test_new_environment_has_every_learning_table_and_view(self, env):
        for name in TABLES + VIEWS:
            assert count(env, name) == 0, name

    def test_schema_version_is_recorded_in_system(self, env):
        dbm = DatabaseManager(env)
        assert dbm.get_database_version(SCHEMA_VERSION_NAME) == SCHEMA_VERSION
        assert not LearningEnvironmentSetup(env).environment_needs_upgrade()

    def test_tables_are_in_schema_learning_or_prefixed_on_sqlite(self, env):
        if dialect(env) == 'postgres':
            rows = query(env, """SELECT table_name FROM information_schema.tables
                                 WHERE table_schema = 'learning'""")
            expected = set(TABLES) | set(VIEWS)
        else:
            rows = query(env, """SELECT name FROM sqlite_master
                                 WHERE name LIKE 'learning%%'
                                 AND type IN ('table', 'view')""")
            expected = {'learning_' + name for name in TABLES + VIEWS}
        assert {r[0] for r in rows} == expected

    def test_sqlite_connections_enforce_foreign_keys(self, env):
        with env.db_transaction as db:
            cursor = db.cursor()
            if dialect(env) == 'sqlite':
                cursor.execute('PRAGMA foreign_keys')
                assert cursor.fetchall() == [(1,)]
            else:
                cursor.execute('SHOW server_version_num')
                assert int(cursor.fetchone()[0]) >= 150000

    def test_concept_ticket_type_and_custom_fields_are_registered(self, env):
        assert CONCEPT_TICKET_TYPE in [t.name for t in Type.select(env)]
        for name, value in CUSTOM_FIELDS:
            assert env.config.get('ticket-custom', name) == value
        ticket = Ticket(env, new_concept(env))
        assert ticket['question'] == 'Why ...?'
        assert ticket['question_difficulty'] == '3'

    def test_an_admins_custom_field_settings_are_kept(self, make_env):
        env = make_env(config=[('ticket-custom', 'question.label', 'Q')])
        assert env.config.get('ticket-custom', 'question.label') == 'Q'
        assert env.config.get('ticket-custom', 'question_context') == 'text'

    def test_spec_indexes_are_added_to_trac_tables(self, env):
        if dialect(env) == 'postgres':
            rows = query(env, """SELECT indexname FROM pg_indexes
                                 WHERE schemaname = current_schema()""")
        else:
            rows = query(env, """SELECT name FROM sqlite_master
                                 WHERE type = 'index'""")
        names = {r[0] for r in rows}
        assert {'idx_ticket_type', 'idx_ticket_milestone', 'idx_ticket_owner',
                'idx_ticket_custom_name'} <= names
        # Trac already indexes ticket(status): no duplicate is added.
        assert 'idx_ticket_status' not in names


class TestConstraints:

    @pytest.mark.parametrize('status', ['done', 'MASTERED', ''])
    def test_progress_status_outside_the_three_states_is_refused(self, env,
                                                                  status):
        ticket_id = new_concept(env)
        with pytest.raises(integrity_error(env)):
            add_progress(env, 'sub-a', ticket_id, status=status)

    @pytest.mark.parametrize('score', [-0.01, 1.01])
    def test_progress_score_outside_0_1_is_refused(self, env, score):
        ticket_id = new_concept(env)
        with pytest.raises(integrity_error(env)):
            add_progress(env, 'sub-a', ticket_id, score=score)

    def test_mastered_needs_a_completion_time(self, env):
        ticket_id = new_concept(env)
        with pytest.raises(integrity_error(env)):
            run(env, """INSERT INTO {progress} (cognito_user_id, ticket_id,
                        status) VALUES (%s, %s, 'mastered')""",
                ('sub-a', ticket_id))

    @pytest.mark.parametrize('difficulty', [0, 6])
    def test_path_difficulty_outside_1_5_is_refused(self, env, difficulty):
        with pytest.raises(integrity_error(env)):
            new_path(env, difficulty=difficulty)

    def test_a_concept_cannot_be_its_own_prerequisite(self, env):
        ticket_id = new_concept(env)
        with pytest.raises(integrity_error(env)):
            run(env, """INSERT INTO {prerequisites} (concept_ticket_id,
                        prerequisite_ticket_id, created_at)
                        VALUES (%s, %s, %s)""", (ticket_id, ticket_id, NOW))

    def test_a_prerequisite_link_is_stored_once(self, env):
        a, b = new_concept(env), new_concept(env, summary='Merkle Trees')
        statement = """INSERT INTO {prerequisites} (concept_ticket_id,
                       prerequisite_ticket_id, created_at) VALUES (%s, %s, %s)"""
        run(env, statement, (b, a, NOW))
        with pytest.raises(integrity_error(env)):
            run(env, statement, (b, a, NOW))

    def test_metadata_for_a_missing_ticket_is_refused(self, env):
        with pytest.raises(integrity_error(env)):
            run(env, """INSERT INTO {concept_metadata} (ticket_id, chunk_id,
                        relevance, cosine, expected_answer, created_at)
                        VALUES (%s, %s, %s, %s, %s, %s)""",
                (9999, 'bc_01', 0.8, 0.5, 'answer', NOW))

    def test_relevance_outside_0_1_is_refused(self, env):
        ticket_id = new_concept(env)
        with pytest.raises(integrity_error(env)):
            run(env, """INSERT INTO {concept_metadata} (ticket_id, chunk_id,
                        relevance, cosine, expected_answer, created_at)
                        VALUES (%s, %s, %s, %s, %s, %s)""",
                (ticket_id, 'bc_01', 1.5, 0.5, 'answer', NOW))

    def test_an_attempt_needs_its_progress_row(self, env):
        ticket_id = new_concept(env)
        with pytest.raises(integrity_error(env)):
            add_attempt(env, 'sub-a', ticket_id, 1)

    def test_attempt_numbers_are_unique_per_learner_and_concept(self, env):
        ticket_id = new_concept(env)
        add_progress(env, 'sub-a', ticket_id)
        add_attempt(env, 'sub-a', ticket_id, 1)
        with pytest.raises(integrity_error(env)):
            add_attempt(env, 'sub-a', ticket_id, 1)

    def test_chunk_concept_names_are_unique_within_a_subject(self, env):
        statement = """INSERT INTO {chunks} (id, subject, concept, content,
                       difficulty_level, created_at, updated_at)
                       VALUES (%s, %s, %s, %s, %s, %s, %s)"""
        run(env, statement, ('a', 'ML', 'Gradient Descent', 'x', 2, NOW, NOW))
        run(env, statement, ('b', 'Optimisation', 'Gradient Descent', 'x', 2,
                             NOW, NOW))
        with pytest.raises(integrity_error(env)):
            run(env, statement, ('c', 'ML', 'Gradient Descent', 'y', 2, NOW,
                                 NOW))


def add_attempt(env, sub, ticket_id, number, score=0.4):
    run(env, """INSERT INTO {attempts} (cognito_user_id, ticket_id, attempt,
                answer, score, feedback, grader, created_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (sub, ticket_id, number, 'my answer', score, 'ok', 'offline', NOW))


class TestTicketDeletion:

    def test_deleting_a_concept_ticket_removes_its_learning_rows(self, env):
        path_id = new_path(env)
        a = new_concept(env, summary='Hash Functions')
        b = new_concept(env, summary='Merkle Trees')
        for position, ticket_id in enumerate((a, b)):
            run(env, """INSERT INTO {path_concepts} (path_id, ticket_id,
                        position, added_at) VALUES (%s, %s, %s, %s)""",
                (path_id, ticket_id, position, NOW))
            run(env, """INSERT INTO {concept_metadata} (ticket_id, chunk_id,
                        relevance, cosine, expected_answer, created_at)
                        VALUES (%s, %s, %s, %s, %s, %s)""",
                (ticket_id, 'chunk-%d' % ticket_id, 0.9, 0.6, 'answer', NOW))
            add_progress(env, 'sub-a', ticket_id)
            add_attempt(env, 'sub-a', ticket_id, 1)
        run(env, """INSERT INTO {prerequisites} (concept_ticket_id,
                    prerequisite_ticket_id, created_at) VALUES (%s, %s, %s)""",
            (b, a, NOW))

        Ticket(env, a).delete()

        for table, column in [('path_concepts', 'ticket_id'),
                              ('concept_metadata', 'ticket_id'),
                              ('progress', 'ticket_id'),
                              ('attempts', 'ticket_id')]:
            assert count(env, table, column + '=%s', (a,)) == 0, table
            assert count(env, table, column + '=%s', (b,)) == 1, table
        assert count(env, 'prerequisites') == 0
        assert count(env, 'paths') == 1


class TestAuditTrigger:

    def test_updating_progress_counts_updates(self, env):
        ticket_id = new_concept(env)
        add_progress(env, 'sub-a', ticket_id)
        for score in (0.6, 0.7):
            run(env, """UPDATE {progress} SET answer_score=%s
                        WHERE cognito_user_id=%s AND ticket_id=%s""",
                (score, 'sub-a', ticket_id))
        (update_count, score, updated_by), = query(env, """
            SELECT update_count, answer_score, updated_by FROM {progress}
            WHERE cognito_user_id=%s AND ticket_id=%s""", ('sub-a', ticket_id))
        assert update_count == 2
        assert score == pytest.approx(0.7)
        if dialect(env) == 'postgres':
            (role,), = query(env, 'SELECT current_user')
            assert updated_by == role


class TestViews:

    def test_path_summary_counts_a_learners_own_progress(self, env):
        path_id = new_path(env, sub='sub-a')
        tickets = [new_concept(env, summary='C%d' % i) for i in range(3)]
        for position, ticket_id in enumerate(tickets):
            run(env, """INSERT INTO {path_concepts} (path_id, ticket_id,
                        position, added_at) VALUES (%s, %s, %s, %s)""",
                (path_id, ticket_id, position, NOW))
        add_progress(env, 'sub-a', tickets[0], status='mastered', score=0.9)
        add_progress(env, 'sub-a', tickets[1], status='studying')
        # Another learner's progress on the same concept does not count.
        add_progress(env, 'sub-b', tickets[2], status='mastered', score=0.9)

        (total, mastered, studying, completion), = query(env, """
            SELECT total_concepts, mastered_concepts, studying_concepts,
                   completion_percentage
            FROM {path_summary_view} WHERE path_id=%s""", (path_id,))
        assert (total, mastered, studying) == (3, 1, 1)
        assert float(completion) == pytest.approx(33.3)

    def test_empty_path_has_no_completion_rather_than_an_error(self, env):
        path_id = new_path(env)
        (total, completion), = query(env, """
            SELECT total_concepts, completion_percentage
            FROM {path_summary_view} WHERE path_id=%s""", (path_id,))
        assert total == 0 and completion is None

    def test_user_progress_view_joins_ticket_and_question(self, env):
        milestone = Milestone(env)
        milestone.name = 'milestone1'
        milestone.insert()
        ticket_id = new_concept(env, summary='Hash Functions',
                                milestone='milestone1')
        add_progress(env, 'sub-a', ticket_id, score=0.4)
        rows = query(env, """
            SELECT ticket_id, concept, subject, question, difficulty, status,
                   answer_score
            FROM {user_progress_view} WHERE cognito_user_id=%s""", ('sub-a',))
        assert rows == [(ticket_id, 'Hash Functions', 'milestone1',
                         'Why ...?', '3', 'studying', pytest.approx(0.4))]

    def test_user_progress_view_shows_only_learning_concepts(self, env):
        ticket = Ticket(env)
        ticket.populate({'type': 'defect', 'summary': 'bug', 'status': 'new'})
        add_progress(env, 'sub-a', ticket.insert())
        assert count(env, 'user_progress_view') == 0
