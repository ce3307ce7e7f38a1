"""Language models: the providers that write academic sentences and
questions and grade answers (`ILLMProvider`), and the shapes they return.

- `offline`: the embedded default, deterministic and without network;
- `anthropic_provider`: Anthropic's API;
- `openai_compatible`: a server with an OpenAI-compatible API (Ollama, vLLM,
  llama.cpp's server, OpenAI);
- `remote`: what the providers that call a model over the network share
  (checking answers, retries, the circuit breaker, health);
- `grading`: the study-independent parts of grading (caching, records).
"""

from collections import namedtuple
from dataclasses import dataclass, field

from trac.config import ExtensionOption
from trac.core import Component

from tracl.api import ILLMProvider

#: An answer scoring at least this much shows the concept is mastered.
MASTERY_THRESHOLD = 0.8


class LLMUnavailable(Exception):
    """The provider cannot answer now (network, timeouts, quota, open
    circuit). Nothing was recorded; the caller answers 503."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class GeneratedQuestion:
    """A question about a concept, the answer a learner should give and
    the rubric it is graded against: `key_points`, a tuple of
    `tracl.model.rubrics.KeyPoint` (two to five, each naming the chunk's
    sentences it rests on), and `misconceptions`, a tuple of
    `tracl.model.rubrics.Misconception` (at most three)."""

    question: str
    expected_answer: str
    difficulty: int
    key_points: tuple = ()
    misconceptions: tuple = ()


#: How sure a grade is: `level` is 'high', 'medium' or 'low', `reason`
#: a sentence saying why.
Confidence = namedtuple('Confidence', ['level', 'reason'])

#: The confidence levels, surest first.
CONFIDENCE_LEVELS = ('high', 'medium', 'low')

#: Default of `[learning] uncertain_margin`: a score this near the
#: mastery threshold is a close call.
UNCERTAIN_MARGIN = 0.1


@dataclass(frozen=True)
class Evaluation:
    """A graded answer, with what it takes to audit and regrade it."""

    score: float
    feedback: str
    grader: str
    grader_version: str
    model: str = ''
    raw_output: str = field(default='', repr=False)
    #: How the answer covers each key point: a tuple of
    #: `tracl.model.rubrics.PointGrade`, in the rubric's order.
    evidence: tuple = ()
    #: The rubric's misconceptions the answer states, and statements that
    #: contradict a key point: a tuple of `tracl.model.rubrics.Misconception`
    #: (the learner's claim as the rubric words it, and its correction).
    errors: tuple = ()
    #: How sure the grader is of the verdict (a `Confidence`), or None
    #: for a grader that does not say.
    confidence: Confidence = None


class LearningLLM(Component):
    """The provider TracLearn uses, chosen in trac.ini."""

    provider = ExtensionOption('learning', 'llm_provider', ILLMProvider,
        'OfflineLLMProvider',
        """Name of the component that writes academic sentences and
        questions and grades answers: `OfflineLLMProvider` (no network,
        deterministic), `AnthropicLLMProvider` (configured in
        `[anthropic]`, key in `ANTHROPIC_API_KEY`) or
        `OpenAICompatibleLLMProvider` (a server with an OpenAI-compatible
        API, such as Ollama, vLLM or llama.cpp's server, configured in
        `[openai_compatible]`, optional key in `OPENAI_API_KEY`).""")
