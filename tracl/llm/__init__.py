"""Language models: the providers that write academic sentences and
questions and grade answers (`ILLMProvider`), and the shapes they return.

- `offline`: the embedded default, deterministic and without network;
- `anthropic_provider`: Anthropic's API;
- `grading`: the study-independent parts of grading (caching, records).
"""

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
    """A question about a concept and the answer a learner should give."""

    question: str
    expected_answer: str
    difficulty: int


@dataclass(frozen=True)
class Evaluation:
    """A graded answer, with what it takes to audit and regrade it."""

    score: float
    feedback: str
    grader: str
    grader_version: str
    model: str = ''
    raw_output: str = field(default='', repr=False)


class LearningLLM(Component):
    """The provider TracLearn uses, chosen in trac.ini."""

    provider = ExtensionOption('learning', 'llm_provider', ILLMProvider,
        'OfflineLLMProvider',
        """Name of the component that writes academic sentences and
        questions and grades answers: `OfflineLLMProvider` (no network,
        deterministic) or `AnthropicLLMProvider` (configured in
        `[anthropic]`, key in `ANTHROPIC_API_KEY`).""")
