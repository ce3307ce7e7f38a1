"""A language model behind an OpenAI-compatible Chat Completions API: a
local server (Ollama, vLLM, llama.cpp's server, LM Studio) or OpenAI's own.

Each operation is one `POST {base_url}/chat/completions` whose
`response_format` is the JSON schema of the answer (`tracl.llm.prompts`,
the schemas the Anthropic provider forces as tools), sent as
`{"type": "json_schema", "json_schema": {..., "strict": true}}`. The
answer is `choices[0].message.content`, read as JSON and checked like the
Anthropic provider's tool input. Learner text and study material go into
the prompt quoted as data, by the same prompts.

Retries, backoff, the circuit breaker and health are those of every remote
provider (`tracl.llm.remote`). What is particular here:

- a `message.refusal` (the model declined) answers unavailable at once,
  without asking again;
- an answer cut short by `max_tokens` (`finish_reason: "length"`) is asked
  again once, then reported as unavailable, like any malformed answer;
- grades are asked with `temperature: 0`, so that the same answer gets the
  same grade; the other operations keep the server's sampling.

The key, when the server wants one, comes only from the `OPENAI_API_KEY`
environment variable and is sent as `Authorization: Bearer`; it is never
logged. Local servers need none.
"""

import copy
import json
from urllib.parse import urlsplit, urlunsplit

import httpx
from trac.config import IntOption, Option

from tracl.llm import prompts
from tracl.llm.remote import (Failure, MalformedOutput, Refusal,
                              RemoteLLMProvider, connection_failure,
                              failure_options, retry_after_seconds,
                              status_failure, timeout_failure)

#: Environment variable holding the API key, if the server wants one.
API_KEY_VARIABLE = 'OPENAI_API_KEY'

#: `Evaluation.grader` of the grades this provider gives.
GRADER = 'openai-compatible'

#: The prompts' tools arrive here as a response format, so the system
#: prompt says how to "call" one; recorded with every grade beside the
#: prompts' own version.
JSON_ANSWER_RULE = """

Here a tool is called by answering with its input alone: one JSON object \
matching the tool's schema, with no other text before or after it."""

#: `Evaluation.grader_version` of this provider's grades.
PROMPT_VERSION = prompts.PROMPT_VERSION + '+json-1'

#: `error.code` of a 429 that will not clear by waiting (OpenAI's API).
QUOTA_ERROR_CODE = 'insufficient_quota'


class OpenAICompatibleLLMProvider(RemoteLLMProvider):
    """Academic sentences, questions and grades from a model served by an
    OpenAI-compatible Chat Completions API."""

    base_url = Option('openai_compatible', 'base_url', '',
        """Address of the server's OpenAI-compatible API, up to and
        including `/v1`: `http://127.0.0.1:11434/v1` for Ollama,
        `http://127.0.0.1:8000/v1` for vLLM, `http://127.0.0.1:8080/v1` for
        llama.cpp's server, `https://api.openai.com/v1` for OpenAI. Empty:
        not configured (the health check says so).""")

    model = Option('openai_compatible', 'model', '',
        """Model that answers, as the server names it (`ollama list`,
        vLLM's `--served-model-name`, any name for llama.cpp's server).
        Each grade records the model the server says answered.""")

    max_tokens = IntOption('openai_compatible', 'max_tokens', 2048,
        """Most tokens the model may write for one answer, its reasoning
        included on models that reason. An answer cut short by this limit
        is asked again once, then reported as unavailable.""")

    # A local server on a CPU can be slow: a longer timeout than for a
    # hosted API, and fewer retries of it.
    timeout, max_retries, circuit_failures, circuit_reset = \
        failure_options('openai_compatible', 60.0, 2, 'the server')

    concurrent_requests = IntOption('openai_compatible',
                                    'concurrent_requests', 2,
        """Requests sent to the server at the same time by one operation
        (the questions of a new path). A local server usually answers 1 to
        4 at once (Ollama's `OLLAMA_NUM_PARALLEL`, llama.cpp's
        `--parallel`); more only wait in its queue.""")

    grader = GRADER
    key_variable = API_KEY_VARIABLE
    prompt_version = PROMPT_VERSION

    #: The `httpx` transport requests go through, or `None` for a real
    #: connection. Tests set it on the component to an
    #: `httpx.MockTransport` serving recorded responses.
    _transport = None

    # ILLMProvider methods

    def concurrent_calls(self):
        return max(1, self.concurrent_requests)

    def describe(self):
        return 'OpenAI-compatible server at %s, model %s (prompts %s)' % (
            _display_url(self.base_url) or '(not set)', self.model or
            '(not set)', PROMPT_VERSION)

    # RemoteLLMProvider methods

    def service_name(self):
        return 'The OpenAI-compatible server at %s' % (
            _display_url(self.base_url) or '(no base_url)')

    def configuration_problem(self):
        missing = [name for name, value in (('base_url', self.base_url),
                                            ('model', self.model))
                   if not value.strip()]
        if missing:
            return ('the OpenAI-compatible server is not configured: set '
                    '%s in the [openai_compatible] section of trac.ini'
                    % ' and '.join(missing))
        return None

    def _new_client(self):
        return httpx.Client(transport=self._transport, follow_redirects=False)

    def _request(self, system, user_message, tool):
        request = {
            'model': self.model.strip(),
            'messages': [
                {'role': 'system', 'content': system + JSON_ANSWER_RULE},
                {'role': 'user', 'content': user_message},
            ],
            'response_format': {
                'type': 'json_schema',
                'json_schema': {
                    'name': tool['name'],
                    'description': tool['description'],
                    'schema': strict_schema(tool['input_schema']),
                    'strict': True,
                },
            },
            'max_tokens': self.max_tokens,
            'stream': False,
        }
        if tool['name'] == prompts.EVALUATION_TOOL['name']:
            # The same answer should get the same grade.
            request['temperature'] = 0
        return request

    def _post(self, client, request):
        try:
            response = client.post(self._url(), json=request,
                                   headers=self._headers(),
                                   timeout=self.timeout)
        except httpx.TimeoutException:
            return None, timeout_failure()
        except httpx.TransportError as e:
            return None, connection_failure(e)
        if response.status_code >= 400:
            return None, _failure(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return None, Failure('the server answered HTTP %d without a JSON '
                                 'object' % response.status_code,
                                 retryable=False, counts=True)
        return body, None

    def _read(self, body, tool):
        content = _content(body)
        try:
            data = json.loads(_without_code_fence(content))
        except ValueError as e:
            raise MalformedOutput('the content is not JSON (%s)' % e)
        if not isinstance(data, dict):
            raise MalformedOutput('the content is a JSON %s, not an object'
                                  % type(data).__name__)
        return data, content

    def _model_of(self, body):
        model = body.get('model')
        return model if isinstance(model, str) and model else self.model

    def _request_id(self, body):
        return body.get('id')

    # Internal methods

    def _url(self):
        return self.base_url.strip().rstrip('/') + '/chat/completions'

    def _headers(self):
        headers = {'Accept': 'application/json'}
        key = self._secret()
        if key:
            headers['Authorization'] = 'Bearer %s' % key
        return headers


# -- The request

def strict_schema(schema):
    """`schema` as OpenAI's strict structured outputs accept it: in every
    object, nested ones included, every property required (an optional one
    may be `null` instead) and no other property allowed; string lengths
    said in the description rather than as `minLength` and `maxLength`,
    which strict mode refuses. The answer is checked against the lengths
    all the same."""
    return _strict(copy.deepcopy(schema))


def _strict(schema):
    if schema.get('type') == 'array' and isinstance(schema.get('items'),
                                                    dict):
        _strict(schema['items'])
    low, high = schema.pop('minLength', None), schema.pop('maxLength', None)
    if high is not None:
        schema['description'] = '%s (%d to %d characters.)' % (
            schema.get('description', '').rstrip('.') + '.', low or 0, high)
    properties = schema.get('properties')
    if schema.get('type') == 'object' and isinstance(properties, dict):
        required = set(schema.get('required', ()))
        for name, field in properties.items():
            _strict(field)
            if name not in required:
                field['type'] = [field['type'], 'null']
        schema['required'] = list(properties)
        schema['additionalProperties'] = False
    return schema


# -- Reading the answer

def _content(body):
    """The text of the first choice; `Refusal` when the model declined,
    `MalformedOutput` when there is no usable text."""
    choices = body.get('choices')
    if not isinstance(choices, list) or not choices \
            or not isinstance(choices[0], dict):
        raise MalformedOutput('no choices')
    choice = choices[0]
    message = choice.get('message')
    if not isinstance(message, dict):
        raise MalformedOutput('no message')
    refusal = message.get('refusal')
    if isinstance(refusal, str) and refusal.strip():
        raise Refusal(refusal.strip())
    finish = choice.get('finish_reason')
    if finish == 'content_filter':
        raise Refusal("the server's content filter stopped the answer")
    if finish == 'length':
        raise MalformedOutput('the answer was cut short by max_tokens: '
                              'raise [openai_compatible] max_tokens if this '
                              'repeats')
    content = message.get('content')
    if not isinstance(content, str) or not content.strip():
        raise MalformedOutput('no content (finish reason %s)' % finish)
    return content


def _without_code_fence(content):
    """`content` without a Markdown code fence around it, which some
    servers that ignore `response_format` let their model write."""
    text = content.strip()
    if text.startswith('```') and text.endswith('```') and '\n' in text:
        text = text[text.index('\n') + 1:-3]
    return text


# -- Failures

def _failure(response):
    """What an HTTP error response means for retries and the circuit."""
    kind, text, code = _error_body(response)
    status = response.status_code
    described = ' '.join(part for part in ('HTTP %d' % status, kind)
                         if part)
    if text:
        described = '%s: %s' % (described, text)
    return status_failure(status, described,
                          retry_after_seconds(response.headers),
                          API_KEY_VARIABLE,
                          lasting_quota=code == QUOTA_ERROR_CODE)


def _error_body(response):
    """`(type, message, code)` of an error body: OpenAI, Ollama and
    llama.cpp wrap them in `error`, vLLM has answered them at the top
    level; a proxy may answer something else."""
    try:
        body = response.json()
    except ValueError:
        return None, None, None
    if not isinstance(body, dict):
        return None, None, None
    error = body.get('error', body)
    if isinstance(error, str):
        return None, error, None
    if not isinstance(error, dict):
        return None, None, None
    kind, text, code = (error.get(name) for name in ('type', 'message',
                                                     'code'))
    return (kind if isinstance(kind, str) else None,
            text if isinstance(text, str) else None,
            code if isinstance(code, str) else None)


def _display_url(url):
    """`url` without a user name or password, for messages."""
    url = url.strip()
    parts = urlsplit(url)
    if '@' not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit('@', 1)[1]))
