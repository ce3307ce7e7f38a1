"""`trac-admin ENV learning ask | question | grade-eval` with the offline
provider."""

import csv
import json
import re

import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager
from trac.test import EnvironmentStub

import support.envs  # noqa: F401 (loads TracLearn's modules)
from support.corpus import fill_store
from support.providers import scripted_provider
from tracl.corpus import load_starter_corpus, load_starter_questions
from tracl.llm import Confidence, Evaluation
from tracl.model import questions


@pytest.fixture
def admin():
    env = EnvironmentStub(enable=['trac.*', 'tracl.*'])
    manager = AdminCommandManager(env)

    def run(*args):
        return manager.execute_command('learning', *args)
    return run


def test_ask_prints_five_numbered_sentences(admin, capsys):
    admin('ask', 'I want to understand machine learning')
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split('.')[0] for line in lines] == ['1', '2', '3', '4', '5']
    assert all('machine learning' in line for line in lines)


def test_question_for_a_starter_chunk(admin, capsys):
    chunk = load_starter_corpus()[0]
    admin('question', chunk['id'], '--difficulty', '4')
    out = capsys.readouterr().out
    assert 'Concept: %s' % chunk['concept'] in out
    assert 'Difficulty: 4' in out
    assert 'Question: ' in out and 'Expected answer: ' in out
    # The rubric too: key points naming the chunk's sentences.
    assert 'Key point 1 (sentences 1): ' in out
    assert 'Key point 2 (sentences ' in out
    assert 'Misconceptions: none' in out


def test_question_from_a_corpus_file(admin, capsys, tmp_path):
    corpus = tmp_path / 'mine.jsonl'
    corpus.write_text(json.dumps({
        'id': 'x1', 'subject': 'Chemistry', 'concept': 'Covalent Bonds',
        'content': 'A covalent bond is a chemical bond in which two atoms '
                   'share a pair of electrons. Sharing lets each atom reach '
                   'a stable electron configuration, which is why hydrogen '
                   'forms H2. The shared pair is attracted to both nuclei, '
                   'so it holds them together.'}) + '\n')
    admin('question', 'x1', '--corpus', str(corpus))
    assert 'Covalent Bonds' in capsys.readouterr().out


def test_question_for_an_unknown_chunk_is_an_error(admin):
    with pytest.raises(AdminCommandError, match='No chunk nope'):
        admin('question', 'nope')


def write_csv(path, rows):
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=[
            'question', 'reference_answer', 'student_answer', 'score01'])
        writer.writeheader()
        writer.writerows(rows)


def test_grade_eval_prints_agreement_as_json_on_the_last_line(
        admin, capsys, tmp_path):
    reference = ('The water evaporated and left the salt behind, because '
                 'heat turns water into vapour but salt does not evaporate.')
    rows = [
        {'question': 'How did you separate the salt from the water?',
         'reference_answer': reference,
         'student_answer': 'We heated it so the water evaporated and the salt '
                           'stayed behind since salt does not evaporate.',
         'score01': '1'},
        {'question': 'How did you separate the salt from the water?',
         'reference_answer': reference,
         'student_answer': 'The water evaporates, leaving the salt.',
         'score01': '1'},
        {'question': 'How did you separate the salt from the water?',
         'reference_answer': reference,
         'student_answer': 'I used a magnet to pull it out.',
         'score01': '0'},
        {'question': 'How did you separate the salt from the water?',
         'reference_answer': reference,
         'student_answer': 'I do not know.', 'score01': '0'},
    ]
    path = tmp_path / 'marked.csv'
    write_csv(path, rows)
    admin('grade-eval', str(path), '--json')
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures['n'] == 4
    assert set(figures) == {'n', 'pearson', 'spearman', 'rmse',
                            'mastery_accuracy', 'auc', 'bias',
                            'balanced_accuracy', 'false_mastery_rate',
                            'false_refusal_rate', 'confident_accuracy',
                            'uncertain_share'}
    assert figures['auc'] == 1.0


def test_grade_eval_names_missing_columns(admin, tmp_path):
    path = tmp_path / 'bad.csv'
    path.write_text('question,answer\nq,a\n')
    with pytest.raises(AdminCommandError, match='reference_answer'):
        admin('grade-eval', str(path))


def test_grade_eval_refuses_a_mark_outside_0_1(admin, tmp_path):
    path = tmp_path / 'bad.csv'
    write_csv(path, [{'question': 'q', 'reference_answer': 'r',
                      'student_answer': 's', 'score01': '7'}])
    with pytest.raises(AdminCommandError, match='Line 2'):
        admin('grade-eval', str(path))


# Rows naming a chunk: graded against the chunk's stored question ------------

def stored_questions(env, chunk_id):
    """Store two of the starter questions (or the same one reworded) of
    `chunk_id`; return them, first stored first."""
    contents = {c['id']: c['content'] for c in load_starter_corpus()}
    records = [q for q in load_starter_questions()
               if q['chunk_id'] == chunk_id]
    second = dict(records[-1])
    if len(records) == 1:
        second['question'] = 'Once more: ' + second['question']
    return [questions.store_question(env, record, contents[chunk_id],
                                     'starter')
            for record in (records[0], second)]


@pytest.fixture
def graded(make_env, monkeypatch):
    """`(run, calls, env)`: `run(*args)` runs `learning grade-eval`, with a
    provider that records what it is asked and scores each answer by the
    `answer_scores` mapping `calls` holds."""
    env = make_env(provider=True)
    provider = scripted_provider(env)
    calls = {'asked': [], 'answer_scores': {}}

    def evaluate(question, expected_answer, answer, context, rubric=None):
        calls['asked'].append((question, expected_answer, answer, rubric))
        return Evaluation(score=calls['answer_scores'][answer],
                          feedback='Feedback on %s.' % answer,
                          grader='recording', grader_version='1')
    monkeypatch.setattr(provider, 'evaluate', evaluate)
    manager = AdminCommandManager(env)

    def run(*args):
        return manager.execute_command('learning', 'grade-eval', *args)
    return run, calls, env


def write_chunk_csv(path, rows, kinds=True):
    fieldnames = ['chunk_id', 'kind', 'student_answer', 'score01']
    if not kinds:
        fieldnames.remove('kind')
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows([{k: v for k, v in row.items() if k in fieldnames}
                          for row in rows])


CHUNK = 'ml_01'

# Scores against marks, hand-computed at the 0.8 threshold: the three
# answers marked 1 get 0.9, 0.95 and 0.5 (one false refusal in three),
# the two marked 0 get 0.85 and 0.2 (one false mastery in two). Bias is
# 3.4/5 - 3/5 = 0.08; balanced accuracy 1 - (1/3 + 1/2)/2 = 7/12.
TINY = [('a1', 'a', 0.9, '1'), ('a2', 'a', 0.95, '1'), ('a3', 'a', 0.5, '1'),
        ('b1', 'b', 0.85, '0'), ('b2', 'b', 0.2, '0')]


def tiny_rows(calls, chunk_id=CHUNK):
    calls['answer_scores'].update({a: score for a, _, score, _ in TINY})
    return [{'chunk_id': chunk_id, 'kind': kind, 'student_answer': answer,
             'score01': mark} for answer, kind, _, mark in TINY]


def test_a_chunk_row_is_graded_against_the_chunks_first_question_and_rubric(
        graded, tmp_path, capsys):
    run, calls, env = graded
    first, second = stored_questions(env, CHUNK)
    assert first.id < second.id
    path = tmp_path / 'chunks.csv'
    write_chunk_csv(path, tiny_rows(calls))
    run(str(path), '--json')
    assert len(calls['asked']) == 5
    for question, expected, _, rubric in calls['asked']:
        assert question == first.question
        assert expected == first.expected_answer
        # The first question's key points; its misconceptions first, then
        # those of the chunk's other question.
        assert rubric.key_points == first.rubric.key_points
        known = list(rubric.misconceptions)
        assert known[:len(first.rubric.misconceptions)] == \
            list(first.rubric.misconceptions)
        assert set(second.rubric.misconceptions) <= set(known)
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures['n'] == 5
    assert figures['bias'] == pytest.approx(0.08)
    assert figures['balanced_accuracy'] == pytest.approx(7 / 12.0)
    assert figures['false_mastery_rate'] == pytest.approx(0.5)
    assert figures['false_refusal_rate'] == pytest.approx(1 / 3.0)
    assert figures['mastery_accuracy'] == pytest.approx(3 / 5.0)
    assert figures['confident_accuracy'] is None
    assert figures['uncertain_share'] is None
    assert 'rows' not in figures


def test_a_chunk_row_copied_from_the_chunk_is_capped_as_in_the_study_loop(
        graded, tmp_path, capsys):
    run, calls, env = graded
    stored_questions(env, CHUNK)
    fill_store(env)
    content = {c['id']: c['content'] for c in load_starter_corpus()}[CHUNK]
    copied = ' '.join(content.split()[:60])
    calls['answer_scores'].update({copied: 0.95, 'own words': 0.95})
    path = tmp_path / 'chunks.csv'
    write_chunk_csv(path, [
        {'chunk_id': CHUNK, 'kind': 'copied', 'student_answer': copied,
         'score01': '0'},
        {'chunk_id': CHUNK, 'kind': 'own', 'student_answer': 'own words',
         'score01': '1'}])
    run(str(path), '--json', '--rows')
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])[
        'rows']
    assert rows[0]['score'] == pytest.approx(0.4)
    assert not rows[0]['mastered']
    assert 'own words' in rows[0]['feedback']
    assert rows[1]['score'] == pytest.approx(0.95)
    assert rows[1]['mastered']


def test_an_unknown_chunk_is_reported_and_the_other_rows_graded(
        graded, tmp_path, capsys):
    run, calls, env = graded
    stored_questions(env, CHUNK)
    rows = tiny_rows(calls)
    rows.insert(1, {'chunk_id': 'nope', 'kind': 'a',
                    'student_answer': 'lost', 'score01': '1'})
    path = tmp_path / 'chunks.csv'
    write_chunk_csv(path, rows)
    run(str(path), '--json', '--rows')
    out = capsys.readouterr().out
    assert 'row 2: chunk nope has no question' in out
    assert '1 rows not graded' in out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures['n'] == 5
    assert [r['score'] for r in figures['rows']] == [0.9, None, 0.95, 0.5,
                                                    0.85, 0.2]
    assert figures['rows'][1]['mastered'] is None
    assert 'chunk nope has no question' in figures['rows'][1]['feedback']


def test_only_unknown_chunks_is_an_error(graded, tmp_path):
    run, calls, env = graded
    path = tmp_path / 'chunks.csv'
    write_chunk_csv(path, tiny_rows(calls, chunk_id='nope'))
    with pytest.raises(AdminCommandError, match='No answer could be graded'):
        run(str(path))


def test_rows_prints_every_grade_in_text_and_json(graded, tmp_path, capsys):
    run, calls, env = graded
    stored_questions(env, CHUNK)
    path = tmp_path / 'chunks.csv'
    write_chunk_csv(path, tiny_rows(calls))
    run(str(path), '--rows')
    lines = capsys.readouterr().out.splitlines()
    assert 'row 1 ml_01 a: score 0.90, mastered (mark 1). Feedback on a1.' \
        in lines
    assert 'row 3 ml_01 a: score 0.50, not mastered (mark 1). ' \
        'Feedback on a3.' in lines
    assert not any(line.startswith('{') for line in lines)

    run(str(path), '--json', '--rows')
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures['rows'] == [
        {'score': score, 'mastered': score >= 0.8,
         'feedback': 'Feedback on %s.' % answer, 'chunk_id': CHUNK,
         'kind': kind} for answer, kind, score, _ in TINY]


def test_rows_without_chunk_or_kind_columns_have_three_fields(
        graded, tmp_path, capsys):
    run, calls, env = graded
    calls['answer_scores'].update({'yes': 0.9, 'no': 0.1})
    path = tmp_path / 'marked.csv'
    write_csv(path, [{'question': 'q?', 'reference_answer': 'r.',
                      'student_answer': answer, 'score01': mark}
                     for answer, mark in (('yes', '1'), ('no', '0'))])
    run(str(path), '--json', '--rows')
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures['rows'] == [
        {'score': 0.9, 'mastered': True, 'feedback': 'Feedback on yes.'},
        {'score': 0.1, 'mastered': False, 'feedback': 'Feedback on no.'}]
    assert 'by_kind' not in figures
    # No rubric for a row carrying its own question and reference.
    assert [c[3] for c in calls['asked']] == [None, None]


def test_agreement_per_kind(graded, tmp_path, capsys):
    run, calls, env = graded
    stored_questions(env, CHUNK)
    path = tmp_path / 'chunks.csv'
    write_chunk_csv(path, tiny_rows(calls))
    run(str(path), '--json')
    out = capsys.readouterr().out
    assert 'Agreement of the mastery decision by kind:' in out
    assert re.search(r'^  a +0\.6667  \(n=3', out, re.M)
    assert re.search(r'^  b +0\.5000  \(n=2', out, re.M)
    by_kind = json.loads(out.strip().splitlines()[-1])['by_kind']
    assert list(by_kind) == ['a', 'b']
    assert by_kind['a']['agreement'] == pytest.approx(2 / 3.0)
    assert by_kind['a']['false_refusal_rate'] == pytest.approx(1 / 3.0)
    assert by_kind['a']['false_mastery_rate'] is None
    assert by_kind['b'] == {'n': 2, 'agreement': 0.5,
                            'false_mastery_rate': 0.5,
                            'false_refusal_rate': None}


def test_a_file_mixing_chunk_rows_and_question_rows(graded, tmp_path,
                                                    capsys):
    run, calls, env = graded
    first, _ = stored_questions(env, CHUNK)
    calls['answer_scores'].update({'by chunk': 0.9, 'by question': 0.3})
    path = tmp_path / 'mixed.csv'
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=[
            'chunk_id', 'question', 'reference_answer', 'student_answer',
            'score01'])
        writer.writeheader()
        writer.writerow({'chunk_id': CHUNK, 'student_answer': 'by chunk',
                         'score01': '1'})
        writer.writerow({'question': 'q?', 'reference_answer': 'r.',
                         'student_answer': 'by question', 'score01': '0'})
    run(str(path), '--json')
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])[
        'n'] == 2
    assert [c[:2] for c in calls['asked']] == [
        (first.question, first.expected_answer), ('q?', 'r.')]


def test_a_chunk_file_names_its_missing_columns(graded, tmp_path):
    run, calls, env = graded
    path = tmp_path / 'bad.csv'
    path.write_text('chunk_id,student_answer\nml_01,a\n')
    with pytest.raises(AdminCommandError, match='lacks the columns score01'):
        run(str(path))


def test_an_unreadable_file_is_a_clear_error(graded, tmp_path):
    run, calls, env = graded
    with pytest.raises(AdminCommandError, match='Cannot read'):
        run(str(tmp_path / 'absent.csv'))
    path = tmp_path / 'binary.csv'
    path.write_bytes(b'\xff\xfe\x00chunk_id\n')
    with pytest.raises(AdminCommandError, match='Cannot read'):
        run(str(path))


def test_confidence_figures_come_from_the_grades(graded, tmp_path, capsys,
                                                  monkeypatch):
    run, calls, env = graded
    stored_questions(env, CHUNK)
    provider = scripted_provider(env)
    levels = {'a1': 'high', 'a2': 'high', 'a3': 'low', 'b1': 'high',
              'b2': 'medium'}

    def evaluate(question, expected_answer, answer, context, rubric=None):
        return Evaluation(score=calls['answer_scores'][answer],
                          feedback='F.', grader='recording',
                          grader_version='1',
                          confidence=Confidence(levels[answer], 'Why.'))
    monkeypatch.setattr(provider, 'evaluate', evaluate)
    path = tmp_path / 'chunks.csv'
    write_chunk_csv(path, tiny_rows(calls))
    run(str(path), '--json')
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # High confidence: a1 (0.9, marked 1) and a2 (0.95, 1) right, b1
    # (0.85, marked 0) wrong; one low of five.
    assert figures['confident_accuracy'] == pytest.approx(2 / 3.0)
    assert figures['uncertain_share'] == pytest.approx(1 / 5.0)
