"""`trac-admin ENV learning import | export | reindex | stats | search`."""

import json

import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager

from tracl.search import LearningChunkStore

WORDS = ('Proof of work makes miners spend real computation to propose a '
         'block, so rewriting history means redoing that work faster than '
         'the honest network, which is why old blocks are very expensive '
         'to change and the chain stays secure. ')


def chunk(id_, concept, prerequisite=None, subject='Blockchain Fundamentals',
          words=WORDS):
    return {'id': id_, 'subject': subject, 'concept': concept,
            'content': '%s is explained here. %s' % (concept, words),
            'has_prerequisite': prerequisite, 'prerequisite_for': None,
            'difficulty_level': 2, 'source': 'test corpus'}


def write(path, items):
    path.write_text(''.join(json.dumps(i) + '\n' if isinstance(i, dict)
                            else i + '\n' for i in items))
    return str(path)


@pytest.fixture
def admin(env):
    manager = AdminCommandManager(env)

    def run(*args):
        return manager.execute_command('learning', *args)
    return run


def test_import_reports_new_unchanged_and_rejected(admin, env, tmp_path,
                                                   capsys):
    path = write(tmp_path / 'c.jsonl', [
        chunk('t1', 'Hash Chains'), chunk('t2', 'Mining', 'Hash Chains'),
        chunk('t3', 'Orphan', 'Missing Concept'), '{not json',
        chunk('t4', 'Short', words='Too short.')])
    admin('import', path)
    out = capsys.readouterr().out
    assert '2 new, 0 updated, 0 unchanged, 3 rejected' in out
    assert 'rejected t3' in out and 'Missing Concept' in out
    assert 'rejected line 4' in out
    store = LearningChunkStore(env).store
    assert set(store.get_chunks(['t1', 't2', 't3'])) == {'t1', 't2'}
    # Importing again embeds nothing and changes nothing.
    admin('import', path)
    assert '0 new, 0 updated, 2 unchanged' in capsys.readouterr().out


def test_import_resolves_prerequisites_already_in_the_store(admin, env,
                                                            tmp_path, capsys):
    admin('import', write(tmp_path / 'a.jsonl', [chunk('t1', 'Hash Chains')]))
    capsys.readouterr()
    admin('import', write(tmp_path / 'b.jsonl',
                          [chunk('t2', 'Mining', 'Hash Chains')]))
    assert '1 new, 0 updated, 0 unchanged, 0 rejected' in \
        capsys.readouterr().out


def test_an_edited_chunk_is_updated(admin, env, tmp_path, capsys):
    admin('import', write(tmp_path / 'a.jsonl', [chunk('t1', 'Hash Chains')]))
    edited = chunk('t1', 'Hash Chains', words=WORDS + 'More detail here.')
    admin('import', write(tmp_path / 'b.jsonl', [edited]))
    assert '0 new, 1 updated' in capsys.readouterr().out.splitlines()[-1]
    assert LearningChunkStore(env).store.get_chunks(['t1'])['t1'][
        'content'].endswith('More detail here.')


def test_export_writes_what_was_imported(admin, tmp_path, capsys):
    items = [chunk('t1', 'Hash Chains'), chunk('t2', 'Mining', 'Hash Chains')]
    admin('import', write(tmp_path / 'a.jsonl', items))
    out = tmp_path / 'out.jsonl'
    admin('export', str(out))
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert exported == items


def test_stats_and_search_json(admin, tmp_path, capsys):
    admin('import', write(tmp_path / 'a.jsonl', [
        chunk('t1', 'Hash Chains'), chunk('t2', 'Mining', 'Hash Chains')]))
    admin('stats')
    out = capsys.readouterr().out
    assert '2 chunks' in out and 'all-MiniLM-L6-v2' in out
    admin('search', 'why is rewriting blockchain history expensive?',
          '--json')
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result['query'] == 'why is rewriting blockchain history expensive?'
    assert {c['chunk_id'] for c in result['chunks']} == {'t1', 't2'}
    for found in result['chunks']:
        assert 0.65 <= found['relevance'] <= 1 and -1 <= found['cosine'] <= 1


def test_search_lists_foundations_after_the_results(admin, capsys):
    admin('import', '--starter')
    capsys.readouterr()
    admin('search', 'I want to understand blockchain technology')
    lines = capsys.readouterr().out.splitlines()
    needed = [line for line in lines if 'needed first' in line]
    assert needed and lines[-len(needed):] == needed
    assert any('Cryptographic Hash Functions (for ' in line
               for line in needed)


def test_reindex_embeds_every_chunk_again(admin, tmp_path, capsys):
    admin('import', write(tmp_path / 'a.jsonl', [chunk('t1', 'Hash Chains')]))
    admin('reindex')
    assert 'Embedded 1 chunks' in capsys.readouterr().out


def test_import_needs_a_file_or_starter(admin):
    with pytest.raises(AdminCommandError):
        admin('import')
