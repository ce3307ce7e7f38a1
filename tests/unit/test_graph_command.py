"""`trac-admin ENV learning graph USER [--milestone M] [--format dot|svg|png]
[-o FILE]` on SQLite and PostgreSQL, with the learner's concepts made
through the API (the blockchain and machine-learning paths of the starter
corpus) and drawn by the real `dot`."""

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
from trac.admin.api import AdminCommandError, AdminCommandManager
from trac.admin.console import TracAdmin

from support.sessions import browser_session
from support.study import make_path
from tracl.auth.profile import LearnerProfiles
from tracl.graph.service import KnowledgeGraphs

ALICE, BOB = 'sub-alice', 'sub-bob'
MACHINE_LEARNING = 'I want to learn machine learning'
BLOCKCHAIN_SUBJECT = 'Blockchain Fundamentals'

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
SVG = '{http://www.w3.org/2000/svg}'
XLINK_HREF = '{http://www.w3.org/1999/xlink}href'


@pytest.fixture
def admin(env):
    manager = AdminCommandManager(env)

    def run(*args):
        return manager.execute_command('learning', 'graph', *args)
    return run


@pytest.fixture
def path(env):
    return make_path(env, ALICE)


def ticket_href(env, ticket_id):
    return env.abs_href.ticket(ticket_id)


def dot_layout(source):
    """`dot -Tjson` of `source`; fails the test when `dot` refuses it."""
    result = subprocess.run(['dot', '-Tjson'], input=source.encode('utf-8'),
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def concept_nodes(layout):
    """`{ticket_id: URL}` of the concept nodes of a `dot -Tjson` layout."""
    return {int(o['name'][1:]): o.get('URL') for o in layout['objects']
            if re.match(r'^c[0-9]+$', o['name'])}


def test_dot_to_standard_output_draws_every_concept_with_its_link(
        env, admin, path, capsys):
    admin(ALICE, '--format', 'dot')
    source = capsys.readouterr().out
    assert source.startswith('digraph knowledge_graph {')
    nodes = concept_nodes(dot_layout(source))
    assert nodes == {t['ticket_id']: ticket_href(env, t['ticket_id'])
                     for t in path['tickets']}
    assert nodes[path['tickets'][0]['ticket_id']].startswith('http://')
    # With its legend, as the contract's admins see it.
    assert 'cluster_legend' in source and 'mastered' in source


def test_the_cognito_username_names_the_same_learner(env, admin, path,
                                                     capsys):
    username = LearnerProfiles(env).get(ALICE)['username']
    assert username != ALICE
    admin(ALICE, '--format', 'dot')
    by_sub = capsys.readouterr().out
    admin(username, '--format', 'dot')
    assert capsys.readouterr().out == by_sub


def test_milestone_draws_one_subject(env, admin, path, capsys):
    other = make_path(env, ALICE, query=MACHINE_LEARNING, fill=False)
    admin(ALICE, '--format', 'dot')
    both = concept_nodes(dot_layout(capsys.readouterr().out))
    assert set(both) == {t['ticket_id'] for t in path['tickets'] +
                         other['tickets']}
    admin(ALICE, '--format', 'dot', '--milestone', BLOCKCHAIN_SUBJECT)
    source = capsys.readouterr().out
    assert set(concept_nodes(dot_layout(source))) == \
        {t['ticket_id'] for t in path['tickets']}
    # One subject: no subject cluster, only the legend's.
    assert re.findall(r'subgraph (cluster_\w+)', source) == ['cluster_legend']


def test_svg_to_standard_output_links_only_the_tickets(env, admin, path,
                                                       capsys):
    admin(ALICE, '--format', 'svg')
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == SVG + 'svg'
    hrefs = sorted(a.get(XLINK_HREF) for a in root.iter(SVG + 'a')
                   if a.get(XLINK_HREF))
    assert hrefs == sorted(ticket_href(env, t['ticket_id'])
                           for t in path['tickets'])
    texts = ' '.join(t.text or '' for t in root.iter(SVG + 'text'))
    assert 'Distributed Ledgers' in texts and 'not started' in texts


def test_png_goes_to_the_binary_standard_output(env, admin, path,
                                                capsysbinary):
    admin(ALICE, '--format', 'png')
    out = capsysbinary.readouterr().out
    assert out.startswith(PNG_MAGIC)
    assert out == KnowledgeGraphs(env).draw(
        ALICE, env.abs_href.ticket, 'png', legend=True).data


@pytest.mark.parametrize('name, fmt, start', [
    ('graph.png', None, PNG_MAGIC),
    ('graph.svg', None, b'<svg'),
    ('graph.gv', 'dot', b'digraph'),
    ('graph.out', 'png', PNG_MAGIC),
])
def test_output_file_takes_the_format_of_its_extension(
        env, admin, path, tmp_path, capsys, name, fmt, start):
    target = tmp_path / name
    admin(ALICE, '-o', str(target), *(('--format', fmt) if fmt else ()))
    assert target.read_bytes().startswith(start)
    out = capsys.readouterr().out
    assert str(target) in out and '%d concepts' % len(path['tickets']) in out


def test_without_format_or_extension_the_configured_format_is_used(
        env, admin, path, tmp_path, capsys):
    env.config.set('learning', 'graph_format', 'png')
    target = tmp_path / 'graph'
    admin(ALICE, '-o', str(target))
    assert target.read_bytes().startswith(PNG_MAGIC)


def test_unknown_learner_is_a_clear_error(env, admin, path):
    with pytest.raises(AdminCommandError, match='No learner nobody'):
        admin('nobody')


def test_learner_without_concepts_is_a_clear_error(env, admin, path):
    browser_session(env, BOB)
    with pytest.raises(AdminCommandError,
                       match='%s has no concepts to draw' % BOB):
        admin(BOB)


def test_subject_without_concepts_is_a_clear_error(env, admin, path):
    with pytest.raises(AdminCommandError,
                       match='%s has no concepts in Cooking' % ALICE):
        admin(ALICE, '--milestone', 'Cooking')


@pytest.mark.parametrize('args, message', [
    ((ALICE, '--format', 'gif'), 'The format is dot, svg or png'),
    ((ALICE, '--colour', 'red'), 'Unknown option --colour'),
    ((ALICE, '-o'), 'needs a value'),
    ((ALICE, BOB), 'Name one learner'),
    ((), 'Name one learner'),
])
def test_bad_arguments_are_refused(env, admin, path, args, message):
    with pytest.raises(AdminCommandError, match=message):
        admin(*args)


def test_missing_dot_is_a_readable_error(make_env):
    env = make_env(config=[('learning', 'graph_dot_path',
                            '/nonexistent/dot')])
    make_path(env, ALICE)
    with pytest.raises(AdminCommandError,
                       match="GraphViz is not installed on the server"):
        AdminCommandManager(env).execute_command('learning', 'graph', ALICE,
                                                 '--format', 'svg')


def test_console_prints_the_error_and_returns_2(env, path, capsys):
    console = TracAdmin()
    console.env_set('', env)
    assert console.onecmd('learning graph nobody') == 2
    assert 'Error: No learner nobody' in capsys.readouterr().err
    assert console.onecmd('learning graph %s --format dot' % ALICE) == 0
    assert capsys.readouterr().out.startswith('digraph')
    console.onecmd('help learning graph')
    assert '[--milestone <subject>] [--format dot|svg|png] [-o <file>]' in \
        capsys.readouterr().out
