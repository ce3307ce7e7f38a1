"""The "My learning" page: what a visitor and a learner see."""

import uuid

import pytest
from trac.test import MockRequest
from trac.ticket.model import Ticket
from trac.util.datefmt import datetime_now, to_utimestamp, utc
from trac.web.chrome import Chrome

from tracl.environment import CONCEPT_TICKET_TYPE
from tracl.schema import sql
from tracl.web.learning import LearningModule


def render(env, req):
    module = LearningModule(env)
    assert module.match_request(req)
    template, data = module.process_request(req)[:2]
    html = Chrome(env).render_template(req, template, data,
                                       {'fragment': False, 'iterable': False})
    return data, html.decode('utf-8')


def add_path(env, sub, title, mastered=0, total=2):
    now = to_utimestamp(datetime_now(utc))
    path_id = str(uuid.uuid4())
    with env.db_transaction as db:
        db(sql(env, """INSERT INTO {paths} (id, title, query_text,
                       cognito_user_id, created_at) VALUES (%s,%s,%s,%s,%s)"""),
           (path_id, title, title, sub, now))
        for i in range(total):
            ticket = Ticket(env)
            ticket.populate({'type': CONCEPT_TICKET_TYPE, 'status': 'new',
                             'summary': 'Concept %d' % i, 'owner': sub})
            ticket_id = ticket.insert()
            db(sql(env, """INSERT INTO {path_concepts} (path_id, ticket_id,
                           position, added_at) VALUES (%s,%s,%s,%s)"""),
               (path_id, ticket_id, i, now))
            if i < mastered:
                db(sql(env, """INSERT INTO {progress} (cognito_user_id,
                               ticket_id, status, completed_at, answer_score,
                               best_score) VALUES (%s,%s,'mastered',%s,1,1)"""),
                   (sub, ticket_id, now))
    return path_id


def test_anonymous_visitor_is_invited_to_sign_in(env):
    req = MockRequest(env, path_info='/learning', authname='anonymous')
    data, html = render(env, req)
    assert data['paths'] == []
    assert 'My learning' in html
    assert 'href="/trac.cgi/login"' in html


def test_learner_without_paths_is_told_how_to_start(env):
    req = MockRequest(env, path_info='/learning', authname='sub-a')
    _, html = render(env, req)
    assert 'You have no learning paths yet' in html


def test_learner_sees_own_paths_with_completion_only(env):
    add_path(env, 'sub-a', 'Understand blockchains', mastered=1, total=2)
    add_path(env, 'sub-b', 'Someone else entirely', mastered=2, total=2)
    req = MockRequest(env, path_info='/learning', authname='sub-a')
    data, html = render(env, req)
    assert [p.title for p in data['paths']] == ['Understand blockchains']
    assert data['paths'][0].completion == pytest.approx(50.0)
    assert 'Understand blockchains' in html
    assert 'Someone else entirely' not in html
    assert 'aria-valuenow="50.0"' in html


def test_path_titles_are_escaped(env):
    add_path(env, 'sub-a', '<script>alert(1)</script>', total=1)
    req = MockRequest(env, path_info='/learning', authname='sub-a')
    _, html = render(env, req)
    assert '<script>alert(1)</script>' not in html
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in html


def test_learning_is_in_the_main_navigation(env):
    req = MockRequest(env, path_info='/wiki', authname='anonymous')
    items = list(LearningModule(env).get_navigation_items(req))
    assert [(category, name) for category, name, _ in items] == \
        [('mainnav', 'learning')]


def test_each_path_title_links_to_the_paths_page(env):
    path_id = add_path(env, 'sub-a', 'Understand blockchains', total=1)
    req = MockRequest(env, path_info='/learning', authname='sub-a')
    _, html = render(env, req)
    assert ('<a href="/trac.cgi/learning/paths/%s">' % path_id) in html


def test_without_paths_the_link_leads_to_the_start_pages_query_box(env):
    req = MockRequest(env, path_info='/learning', authname='sub-a')
    data, html = render(env, req)
    assert data['start_href'] == '/trac.cgi/wiki/WikiStart#tracl-lp-1'
    assert 'href="/trac.cgi/wiki/WikiStart#tracl-lp-1"' in html
    assert 'Start a learning path' in html


def test_a_learner_is_offered_their_data_and_its_deletion(env):
    req = MockRequest(env, path_info='/learning', authname='sub-a')
    data, html = render(env, req)
    assert '<a class="tracl-data-download" href="/trac.cgi/api/v1/me/data"' \
        in html
    assert 'id="tracl-delete-data" method="post"' in html
    assert 'name="__FORM_TOKEN" value="%s"' % req.form_token in html
    assert 'name="confirm"' in html and 'value="yes" required' in html
    assert '<label for="tracl-delete-confirm">' in html


def test_a_visitor_is_offered_no_data_section(env):
    req = MockRequest(env, path_info='/learning', authname='anonymous')
    _, html = render(env, req)
    assert 'tracl-delete-data' not in html
    assert 'me/data' not in html
