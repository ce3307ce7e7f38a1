"""`trac-admin ENV learning ask | question | grade-eval` with the offline
provider."""

import csv
import json

import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager
from trac.test import EnvironmentStub

import support.envs  # noqa: F401 (loads TracLearn's modules)
from tracl.corpus import load_starter_corpus


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
                            'mastery_accuracy', 'auc'}
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
