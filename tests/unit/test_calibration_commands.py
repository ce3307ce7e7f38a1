"""`learning calibrate` (refit, keep, roll back the offline grader's
calibration) and `learning decisions export`, on SQLite and PostgreSQL."""

import csv
import io

import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager

import support.envs  # noqa: F401 (loads TracLearn's modules)
from support.study import make_path
from tracl.admin.questions import QuestionAdminCommands
from tracl.llm import LearningLLM
from tracl.llm import calibration as calibrations
from tracl.llm.offline_grader import GRADER_VERSION
from tracl.model import decisions
from tracl.schema import sql
from tracl.study.loop import StudyLoop



@pytest.fixture
def env(make_env):
    env = make_env(default_data=True, starter_chunks=True)
    QuestionAdminCommands(env).import_starter()
    return env


def run(env, *args):
    return AdminCommandManager(env).execute_command('learning', *args)


def starter_answers():
    from pathlib import Path
    return str(Path(__file__).resolve().parents[1] / 'data' / 'grading' /
               'starter_answers.csv')


def test_calibrate_fits_keeps_and_names_the_new_calibration(env, capsys):
    assert calibrations.active_calibration(env) is None
    run(env, 'calibrate', starter_answers())
    out = capsys.readouterr().out
    assert 'before' in out and 'after' in out
    stored = calibrations.active_calibration(env)
    assert stored is not None
    assert stored.rows_fitted + stored.rows_held_out <= 154
    assert stored.rows_held_out > 0
    assert 0 < stored.calibration.decision < 1
    version = '%s+calibration-%d' % (GRADER_VERSION, stored.id)
    assert version in LearningLLM(env).provider.describe()


def test_past_grades_keep_their_version_and_new_ones_name_the_fit(
        env, capsys):
    ticket_id = make_path(env, 'sub-alice', fill=False)['tickets'][0][
        'ticket_id']
    loop = StudyLoop(env)
    loop.submit('sub-alice', loop.concept('sub-alice', ticket_id),
                'A first answer, in my own words, before any refit.')
    run(env, 'calibrate', starter_answers())
    stored = calibrations.active_calibration(env)
    loop.submit('sub-alice', loop.concept('sub-alice', ticket_id),
                'A second answer, in my own words, after the refit.')
    versions = [v for v, in env.db_query(sql(env, """
        SELECT grader_version FROM {attempts} ORDER BY attempt"""))]
    assert versions == [GRADER_VERSION,
                        '%s+calibration-%d' % (GRADER_VERSION, stored.id)]


def test_rollback_restores_the_calibration_before(env, capsys):
    run(env, 'calibrate', starter_answers())
    first = calibrations.active_calibration(env)
    run(env, 'calibrate', starter_answers())
    second = calibrations.active_calibration(env)
    assert second.id > first.id
    run(env, 'calibrate', '--rollback')
    assert calibrations.active_calibration(env).id == first.id
    run(env, 'calibrate', '--rollback')
    assert calibrations.active_calibration(env) is None
    assert '+calibration' not in LearningLLM(env).provider.describe()
    with pytest.raises(AdminCommandError):
        run(env, 'calibrate', '--rollback')


def write_rows(path, rows):
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=['question', 'reference_answer',
                                               'student_answer', 'score01'])
        writer.writeheader()
        writer.writerows(rows)


def test_calibrate_refuses_too_few_rows_or_one_class(env, tmp_path):
    few = tmp_path / 'few.csv'
    write_rows(few, [{'question': 'Q%d?' % i, 'reference_answer': 'A ref.',
                      'student_answer': 'An answer %d.' % i,
                      'score01': str(i % 2)} for i in range(49)])
    with pytest.raises(AdminCommandError) as raised:
        run(env, 'calibrate', str(few))
    assert '50' in str(raised.value)
    same = tmp_path / 'same.csv'
    write_rows(same, [{'question': 'Q%d?' % i, 'reference_answer': 'A ref.',
                       'student_answer': 'An answer %d.' % i,
                       'score01': '1'} for i in range(60)])
    with pytest.raises(AdminCommandError) as raised:
        run(env, 'calibrate', str(same))
    assert 'same mark' in str(raised.value)
    assert calibrations.active_calibration(env) is None


def test_decisions_export_without_decisions_says_so(env, capsys):
    run(env, 'decisions', 'export')
    assert 'nothing to export' in capsys.readouterr().out


def test_decisions_export_writes_marked_answers(env, capsys, tmp_path):
    ticket_id = make_path(env, 'sub-alice', fill=False)['tickets'][0][
        'ticket_id']
    loop = StudyLoop(env)
    answer = 'My answer, which the teacher will regrade by hand.'
    loop.submit('sub-alice', loop.concept('sub-alice', ticket_id), answer)
    decisions.decide(env, 'sub-teacher', ticket_id, 1, 0.75, 'Fair enough.',
                     0.8, lambda *a: 'Regraded.')
    target = tmp_path / 'decided.csv'
    run(env, 'decisions', 'export', str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    concept = loop.concept('sub-alice', ticket_id)
    assert rows == [{'chunk_id': rows[0]['chunk_id'],
                     'question': concept.question,
                     'reference_answer': concept.expected_answer,
                     'student_answer': answer, 'score01': '0.75',
                     'kind': 'uncertain', 'decided_by': 'sub-teacher',
                     'comment': 'Fair enough.'}]
    # What it writes, grade-eval reads.
    run(env, 'grade-eval', str(target))
    assert 'Graded 1 answers' in capsys.readouterr().out
