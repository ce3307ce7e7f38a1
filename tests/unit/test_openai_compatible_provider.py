"""The OpenAI-compatible provider (`OpenAICompatibleLLMProvider`): the
three operations through `POST {base_url}/chat/completions` with a JSON
schema response format, what each request carries, quoting of untrusted
text, reading the answer (refusals, answers cut short, malformed and
schema-violating JSON), retries, the circuit breaker, the optional key and
health.

The server is the only stand-in: recorded response shapes
(`tests/fixtures/openai_compatible/`) served through `httpx.MockTransport`,
which also keeps the requests. Waits between retries and the circuit's
clock are replaced on the component, so nothing here sleeps or depends on
timing. What every remote provider does alike is tested once, in
`remote_llm_cases`, and run here against this provider.
"""

import json
from pathlib import Path

import httpx
import pytest

import support.envs  # noqa: F401  (loads TracLearn's plugin modules)

from remote_llm_cases import (RUBRIC, Recorded, RemoteProviderCases, grade,
                              provider_maker, question, unavailable,
                              warnings)
from tracl.cache import LearningCache
from tracl.llm import Evaluation, LearningLLM, LLMUnavailable
from tracl.llm import prompts
from tracl.llm.grading import AnswerGrader
from tracl.llm.openai_compatible import (PROMPT_VERSION,
                                         OpenAICompatibleLLMProvider,
                                         strict_schema)

FIXTURES = Path(__file__).resolve().parents[1] / 'fixtures' / \
    'openai_compatible'

BASE_URL = 'http://127.0.0.1:11434/v1'

MODEL = 'qwen2.5:7b-instruct'

KEY = 'sk-proj-TEST-0penai-k3y-0123456789'


# -- Helpers

def fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding='utf-8'))


def content_of(exchange):
    """The JSON the model wrote in a recorded 200 response."""
    return json.loads(exchange['body']['choices'][0]['message']['content'])


def set_content(exchange, data):
    exchange['body']['choices'][0]['message']['content'] = json.dumps(data)


def messages(body):
    system, user = body['messages']
    assert system['role'] == 'system' and user['role'] == 'user'
    return system['content'], user['content']


def timeout(request):
    return httpx.ReadTimeout('timed out', request=request)


def refused_connection(request):
    return httpx.ConnectError('[Errno 111] Connection refused',
                              request=request)


@pytest.fixture
def recorded():
    return Recorded({'sentences': 'chat_sentences.json',
                     'question': 'chat_question.json',
                     'evaluation': 'chat_evaluation.json',
                     'question_missing_sentence':
                         'chat_question_missing_sentence.json',
                     'question_unsupported': 'chat_question_unsupported.json',
                     'evaluation_no_rubric': 'chat_evaluation_no_rubric.json',
                     'evaluation_misconception':
                         'chat_evaluation_misconception.json',
                     'rate_limit': 'rate_limit_429.json',
                     'server_error': 'server_error_500.json',
                     'unavailable': 'unavailable_503.json',
                     'bad_request': 'bad_request_400.json',
                     'unauthorized': 'unauthorized_401.json'},
                    fixture, content_of, set_content,
                    lambda body: messages(body)[1], timeout)


@pytest.fixture
def make_provider(monkeypatch):
    """`remote_llm_cases`' `make_provider`, options in
    `[openai_compatible]` over a base URL and a model, no key."""
    monkeypatch.delenv('OPENAI_API_KEY', raising=False)

    def attach(provider, server):
        provider._transport = httpx.MockTransport(server)
    yield from provider_maker(OpenAICompatibleLLMProvider,
                              'openai_compatible', attach, httpx, fixture,
                              {'base_url': BASE_URL, 'model': MODEL})


# -- The three operations

def test_evaluation_records_grader_prompt_version_model_and_raw_output(
        make_provider):
    recorded = fixture('chat_evaluation.json')
    recorded['body']['model'] = 'qwen2.5:7b-instruct-q4_K_M'
    provider, server = make_provider(recorded)
    evaluation = grade(provider)
    assert isinstance(evaluation, Evaluation)
    assert evaluation.score == 0.55
    assert evaluation.grader == 'openai-compatible'
    assert evaluation.grader_version == PROMPT_VERSION
    assert evaluation.grader_version.startswith(prompts.PROMPT_VERSION)
    # The model the server says answered, not the one asked for.
    assert evaluation.model == 'qwen2.5:7b-instruct-q4_K_M'
    assert server.bodies[0]['model'] == MODEL
    assert evaluation.raw_output == \
        recorded['body']['choices'][0]['message']['content']


def test_evaluation_without_a_model_in_the_answer_records_the_configured_one(
        make_provider):
    recorded = fixture('chat_evaluation.json')
    del recorded['body']['model']
    provider, _server = make_provider(recorded)
    assert grade(provider).model == MODEL


def test_json_inside_a_markdown_fence_is_read(make_provider):
    recorded = fixture('chat_sentences.json')
    message = recorded['body']['choices'][0]['message']
    message['content'] = '```json\n%s\n```' % message['content']
    provider, _server = make_provider(recorded)
    assert len(provider.academic_sentences('linear algebra')) == 5


def test_concurrent_calls_come_from_trac_ini(make_provider):
    provider, _server = make_provider('chat_sentences.json',
                                      concurrent_requests=4)
    assert provider.concurrent_calls() == 4
    provider.env.config.set('openai_compatible', 'concurrent_requests', '0')
    assert provider.concurrent_calls() == 1


def test_it_is_the_provider_learning_llm_chooses(make_provider):
    provider, _server = make_provider('chat_sentences.json')
    assert isinstance(LearningLLM(provider.env).provider,
                      OpenAICompatibleLLMProvider)


# -- What a request carries

def test_request_goes_to_chat_completions_with_model_schema_and_limits(
        make_provider):
    provider, server = make_provider('chat_sentences.json',
                                     base_url=BASE_URL + '/',
                                     max_tokens=900)
    provider.academic_sentences('linear algebra')
    (request,) = server.requests
    assert request.method == 'POST'
    assert str(request.url) == BASE_URL + '/chat/completions'
    assert request.headers['content-type'] == 'application/json'
    body = server.bodies[0]
    assert body['model'] == MODEL
    assert body['max_tokens'] == 900
    assert body['stream'] is False
    assert body['response_format'] == {
        'type': 'json_schema',
        'json_schema': {
            'name': 'record_sentences',
            'description': prompts.SENTENCES_TOOL['description'],
            'schema': strict_schema(prompts.SENTENCES_SCHEMA),
            'strict': True,
        },
    }
    system, _user = messages(body)
    assert system.startswith(prompts.SENTENCES_SYSTEM)


def test_grades_are_asked_at_temperature_zero_and_the_rest_is_not(
        make_provider):
    provider, server = make_provider('chat_evaluation.json',
                                     'chat_evaluation.json',
                                     'chat_sentences.json')
    grade(provider)
    grade(provider, rubric=RUBRIC)
    provider.academic_sentences('linear algebra')
    graded, graded_with_rubric, sentences = server.bodies
    assert graded['temperature'] == graded_with_rubric['temperature'] == 0
    assert 'temperature' not in sentences


@pytest.mark.parametrize('schema', [prompts.SENTENCES_SCHEMA,
                                    prompts.QUESTION_SCHEMA,
                                    prompts.EVALUATION_SCHEMA])
def test_strict_schema_requires_every_property_and_drops_string_lengths(
        schema):
    strict = strict_schema(schema)
    assert sorted(strict['required']) == sorted(schema['properties'])
    assert strict['additionalProperties'] is False
    for name, field in strict['properties'].items():
        assert 'minLength' not in field and 'maxLength' not in field
        if name not in schema['required']:
            assert field['type'] == [schema['properties'][name]['type'],
                                     'null']
    # The shared schema itself is left as it was.
    assert 'answer_contains_instructions' not in \
        prompts.EVALUATION_SCHEMA['required']


def nested(schema):
    """Every schema inside `schema`, itself included."""
    yield schema
    for field in schema.get('properties', {}).values():
        yield from nested(field)
    if isinstance(schema.get('items'), dict):
        yield from nested(schema['items'])


@pytest.mark.parametrize('schema', [prompts.QUESTION_SCHEMA,
                                    prompts.EVALUATION_SCHEMA])
def test_strict_schema_makes_the_objects_of_a_rubric_strict_too(schema):
    objects = [part for part in nested(strict_schema(schema))
               if part.get('type') == 'object']
    assert len(objects) >= 3  # the answer, and the objects of its lists
    for part in objects:
        assert sorted(part['required']) == sorted(part['properties'])
        assert part['additionalProperties'] is False
    assert not [part for part in nested(strict_schema(schema))
                if 'minLength' in part or 'maxLength' in part]


def test_strict_schema_says_string_lengths_in_the_description():
    strict = strict_schema(prompts.QUESTION_SCHEMA)
    low, high = prompts.QUESTION_CHARS
    assert '%d to %d characters' % (low, high) in \
        strict['properties']['question']['description']
    assert strict['properties']['difficulty']['minimum'] == 1


def test_no_authorization_header_without_a_key(make_provider):
    provider, server = make_provider('chat_sentences.json')
    provider.academic_sentences('linear algebra')
    assert 'authorization' not in server.requests[0].headers


def test_key_from_the_environment_is_sent_as_a_bearer_token(make_provider,
                                                             monkeypatch):
    monkeypatch.setenv('OPENAI_API_KEY', KEY)
    provider, server = make_provider('chat_sentences.json')
    provider.academic_sentences('linear algebra')
    assert server.requests[0].headers['authorization'] == 'Bearer %s' % KEY


def test_key_in_trac_ini_is_not_used(make_provider):
    provider, server = make_provider('chat_sentences.json')
    provider.env.config.set('openai_compatible', 'api_key', KEY)
    provider.academic_sentences('linear algebra')
    assert 'authorization' not in server.requests[0].headers


# -- Reading the answer, and what fails

def content_filtered():
    exchange = fixture('chat_evaluation.json')
    exchange['body']['choices'][0]['finish_reason'] = 'content_filter'
    return exchange


def chat(*choices):
    return {'status': 200, 'headers': {},
            'body': {'id': 'x', 'choices': list(choices)}}


def said(content):
    return {'message': {'role': 'assistant', 'content': content}}


@pytest.mark.parametrize('answer, requests, says', [
    # The model declined: asking again would not help.
    ('refusal.json', 1, "declined to write a grade (I'm sorry, I can't"),
    (content_filtered(), 1, 'content filter'),
    # Cut short, not JSON, or JSON of another shape: asked again once.
    ('length_cut.json', 2, 'cut short by max_tokens'),
    ('malformed_content.json', 2, 'the content is not JSON'),
    ('schema_violation.json', 2, 'score is a str'),
    (chat(), 2, 'no choices'),
    (chat({'index': 0, 'finish_reason': 'stop'}), 2, 'no message'),
    (chat(said(None)), 2, 'no content'),
    (chat(said('[1, 2]')), 2, 'a JSON list, not an object'),
    # The server refused: not retried.
    ('insufficient_quota_429.json', 1, 'waiting will not help'),
    ('model_not_found_404.json', 1, 'HTTP 404 api_error: model '),
    # vLLM's older error form, at the top level.
    ('bad_request_400.json', 1, 'HTTP 400 BadRequestError: This model'),
    # Nothing answered: retried.
    (refused_connection, 3, 'could not connect to the server'),
])
def test_what_fails_says_why_after_the_right_number_of_requests(
        make_provider, answer, requests, says):
    provider, server, error = unavailable(make_provider, answer)
    assert len(server.requests) == requests
    assert says in str(error)
    assert provider.circuit_state() == 'closed'


def test_answer_cut_short_then_a_whole_one_is_used(make_provider):
    provider, server = make_provider('length_cut.json',
                                     'chat_evaluation.json')
    assert grade(provider).score == 0.55
    assert len(server.requests) == 2


def test_a_body_that_is_not_json_is_unavailable_without_retrying(
        make_provider):
    provider, _server = make_provider('chat_sentences.json')
    requests = []
    provider._transport = httpx.MockTransport(
        lambda request: requests.append(request) or
        httpx.Response(200, text='<html>proxy login</html>'))
    with pytest.raises(LLMUnavailable) as raised:
        grade(provider)
    assert len(requests) == 1
    assert 'without a JSON object' in str(raised.value)


def test_request_timeout_comes_from_trac_ini(make_provider):
    _provider, server, _error = unavailable(make_provider, timeout,
                                            max_retries=0, timeout=5)
    assert server.requests[0].extensions['timeout']['read'] == 5


# -- Nothing is recorded when grading fails

def test_failed_grade_leaves_nothing_in_the_evaluation_cache(make_provider):
    provider, _server = make_provider('unavailable_503.json',
                                      'chat_evaluation.json', max_retries=0)
    grader = AnswerGrader(provider.env)
    arguments = ('How does backpropagation work?',
                 'It applies the chain rule backwards.',
                 'Backpropagation sends the error backwards.')
    key = AnswerGrader.cache_key(provider, *arguments)
    with pytest.raises(LLMUnavailable):
        grader.evaluate(*arguments)
    assert LearningCache(provider.env).get(key) is None
    assert grader.evaluate(*arguments).score == 0.55
    assert LearningCache(provider.env).get(key)['score'] == 0.55


# -- Health

def test_outage_and_open_circuit_name_the_server(make_provider):
    provider, _server, _error = unavailable(make_provider,
                                            'unavailable_503.json',
                                            max_retries=0, circuit_failures=1)
    ((_name, check),) = provider.get_health_checks()
    assert 'circuit open' in check() and BASE_URL in check()
    (outage,) = warnings(provider.env)
    assert 'OpenAI-compatible server at %s' % BASE_URL in outage


def test_empty_base_url_is_not_configured_and_makes_no_request(
        make_provider):
    provider, server = make_provider('chat_evaluation.json', base_url='')
    ((_name, check),) = provider.get_health_checks()
    assert 'not configured' in check() and 'base_url' in check()
    with pytest.raises(LLMUnavailable) as raised:
        grade(provider)
    assert '[openai_compatible]' in str(raised.value)
    assert server.requests == []
    assert provider.circuit_state() == 'closed'
    assert len([m for m in warnings(provider.env)
                if 'not configured' in m]) == 1


def test_empty_model_is_not_configured(make_provider):
    provider, _server = make_provider('chat_evaluation.json', model='')
    ((_name, check),) = provider.get_health_checks()
    assert 'model' in check()


def test_health_needs_no_key(make_provider):
    provider, _server = make_provider('chat_evaluation.json')
    ((_name, check),) = provider.get_health_checks()
    assert check() is None


def test_describe_names_the_server_model_and_prompt_version(make_provider):
    provider, _server = make_provider(
        'chat_evaluation.json',
        base_url='https://user:secret@llm.example.org/v1')
    described = provider.describe()
    assert 'https://llm.example.org/v1' in described
    assert 'secret' not in described
    assert MODEL in described and PROMPT_VERSION in described


# -- What every remote provider does

class TestOpenAICompatibleAsARemoteProvider(RemoteProviderCases):
    """Retries, the circuit breaker, quoting, malformed answers, the key
    and health, as `remote_llm_cases` says every remote provider does."""
