"""The query's search vector is cached for every learner
(`query_vector:{query_hash}:{source}`): a query someone asked within the
hour costs no LLM call and no embedding, while each learner's results stay
under their own `search:{query_hash}:{sub}` key. A new provider (model or
prompts) or embedder is a new source; an entry that is not a vector of the
embedder's dimension is recomputed."""

import numpy as np
import pytest

from support.providers import ScriptedLLMProvider
from support.study import BLOCKCHAIN
from tracl.cache import LearningCache, query_vector_key, search_key
from tracl.embedding import LearningEmbedder
from tracl.search.pipeline import SearchPipeline


# The scripted provider counts the academic sentences a search costs.
pytestmark = pytest.mark.learning_env(provider=True, starter_chunks=True)


def vector_key(env, query):
    embedder = LearningEmbedder(env).embedder
    return query_vector_key(query, ScriptedLLMProvider(env).describe(),
                            '%s/%d' % (embedder.model_name(),
                                       embedder.dimension()))


def test_learners_asking_the_same_query_share_one_llm_call(env):
    llm = ScriptedLLMProvider(env)
    alice = SearchPipeline(env).search(BLOCKCHAIN, 'sub-alice')
    assert llm.sentence_calls == 1 and alice['cached'] is False
    # Another learner, the query written differently: same vector.
    bob = SearchPipeline(env).search('  I WANT to understand blockchain '
                                     'technology ', 'sub-bob')
    assert llm.sentence_calls == 1
    assert bob['cached'] is False       # bob's own results, made anew
    assert bob['chunks'] == alice['chunks']
    cache = LearningCache(env)
    assert cache.get(search_key(BLOCKCHAIN, 'sub-alice')) is not None
    assert cache.get(search_key(BLOCKCHAIN, 'sub-bob')) is not None


def test_another_query_or_provider_version_asks_the_llm_again(env):
    llm = ScriptedLLMProvider(env)
    pipeline = SearchPipeline(env)
    pipeline.search(BLOCKCHAIN, 'sub-alice')
    pipeline.search('digital signatures and hash functions', 'sub-alice')
    assert llm.sentence_calls == 2
    llm.version = 'v2'      # new prompts: the old vectors are not used
    pipeline.search(BLOCKCHAIN, 'sub-bob')
    assert llm.sentence_calls == 3


def test_the_cached_vector_is_the_one_computed(env):
    pipeline = SearchPipeline(env)
    embedder = LearningEmbedder(env).embedder
    first = pipeline.search_vector(BLOCKCHAIN, embedder)
    again = pipeline.search_vector(BLOCKCHAIN, embedder)
    assert ScriptedLLMProvider(env).sentence_calls == 1
    assert again.dtype == np.float32 and again.shape == (384,)
    np.testing.assert_array_equal(first, again)
    assert abs(float(np.linalg.norm(again)) - 1.0) < 1e-5


@pytest.mark.parametrize('stored', [
    'not base64 at all!', '', 'AAAA', 12, ['x'],
    # 384 NaNs, well formed otherwise.
    __import__('base64').b64encode(
        np.full(384, np.nan, dtype='<f4').tobytes()).decode()])
def test_an_entry_that_is_not_a_vector_is_recomputed(env, stored):
    LearningCache(env).set(vector_key(env, BLOCKCHAIN), stored, 60)
    result = SearchPipeline(env).search(BLOCKCHAIN, 'sub-alice')
    assert ScriptedLLMProvider(env).sentence_calls == 1
    assert result['chunks']
