"""What the contract tests ask every real language model: study material
(a passage, a question on it, the answer expected, its rubric, a good
learner's answer and one stating a misconception) and the checks of the
answers' shapes, run by each provider's
contract module with a subclass of `ContractCases` named `Test...` and a
module-scoped `provider` fixture."""

from tracl.llm import MASTERY_THRESHOLD, GeneratedQuestion
from tracl.llm import prompts
from tracl.model import rubrics
from tracl.model.rubrics import KeyPoint, Misconception, Rubric

CONCEPT = 'Backpropagation'

CONTENT = (
    'Backpropagation computes the gradient of a neural network\'s loss with '
    'respect to every weight. A forward pass computes the activations and '
    'the loss; a backward pass then applies the chain rule layer by layer, '
    'from the output towards the input: the error signal of each unit is '
    'the derivative of its activation times the weighted sum of the error '
    'signals of the units it feeds. The gradient of a weight is the error '
    'signal of the unit it enters times the activation it carries. Reusing '
    'the error signals makes computing all gradients about as costly as '
    'one forward pass, and gradient descent uses them to update the '
    'weights.')

QUESTION = ('Explain how backpropagation finds how much a weight in a hidden '
            'layer contributed to the error at the output of a network.')

EXPECTED = (
    'After a forward pass computes the activations and the loss, '
    'backpropagation goes backwards through the layers applying the chain '
    'rule: each unit\'s error signal is its activation derivative times the '
    'weighted sum of the error signals of the units it feeds, and a '
    'weight\'s gradient is the error signal of the unit it enters times the '
    'activation it carries. Reusing error signals makes this efficient; '
    'gradient descent then moves each weight against its gradient.')

GOOD_ANSWER = (
    'First a forward pass gives the outputs and the loss. Then we go back '
    'from the output layer: using the chain rule, the error signal of a '
    'hidden unit is the derivative of its activation multiplied by the '
    'weighted sum of the error signals coming from the next layer. The '
    'gradient for a weight is that error signal times the input activation '
    'on the weight. Because each layer reuses the signals of the layer '
    'above, it is cheap, and gradient descent then updates the weights.')

RUBRIC = Rubric(
    (KeyPoint('A forward pass computes the activations and the loss, then a '
              'backward pass applies the chain rule from the output towards '
              'the input.', [2]),
     KeyPoint('The error signal of a unit is the derivative of its '
              'activation times the weighted sum of the error signals of '
              'the units it feeds.', [2]),
     KeyPoint('The gradient of a weight is the error signal of the unit it '
              'enters times the activation it carries.', [3])),
    (Misconception('Backpropagation updates the weights by itself.',
                   'Backpropagation only computes the gradients; gradient '
                   'descent uses them to update the weights.'),))

MISCONCEPTION_ANSWER = (
    'A forward pass gives the loss, then the chain rule is applied backwards '
    'from the output: a unit\'s error signal is its activation derivative '
    'times the weighted sum of the error signals of the units it feeds, and '
    'a weight\'s gradient is that signal times the activation it carries. '
    'Backpropagation then updates the weights by itself; gradient descent '
    'is not needed.')


class ContractCases(object):

    def test_writes_five_academic_sentences(self, provider):
        sentences = provider.academic_sentences(
            'how do neural networks learn')
        assert len(sentences) == prompts.SENTENCE_COUNT
        assert all(isinstance(s, str) and len(s.split()) >= 5
                   for s in sentences)

    def test_writes_a_question_within_the_bounds(self, provider):
        generated = provider.generate_question(
            CONCEPT, CONTENT, 3, 'how do neural networks learn')
        assert isinstance(generated, GeneratedQuestion)
        low, high = prompts.QUESTION_CHARS
        assert low <= len(generated.question) <= high
        low, high = prompts.EXPECTED_ANSWER_CHARS
        assert low <= len(generated.expected_answer) <= high
        assert 1 <= generated.difficulty <= 5

    def test_writes_a_rubric_resting_on_the_passage(self, provider):
        generated = provider.generate_question(
            CONCEPT, CONTENT, 3, 'how do neural networks learn')
        count = len(rubrics.sentences(CONTENT))
        assert rubrics.MIN_KEY_POINTS <= len(generated.key_points) <= \
            rubrics.MAX_KEY_POINTS
        assert all(1 <= source <= count for point in generated.key_points
                   for source in point.sources)
        assert len(generated.misconceptions) <= rubrics.MAX_MISCONCEPTIONS

    def test_grades_against_the_rubric_with_evidence(self, provider):
        evaluation = provider.evaluate(QUESTION, EXPECTED, GOOD_ANSWER,
                                       CONTENT, rubric=RUBRIC)
        assert [grade.point for grade in evaluation.evidence] == \
            [point.point for point in RUBRIC.key_points]
        assert {grade.status for grade in evaluation.evidence} <= \
            set(prompts.POINT_STATUSES)

    def test_a_stated_misconception_is_not_mastery(self, provider):
        evaluation = provider.evaluate(QUESTION, EXPECTED,
                                       MISCONCEPTION_ANSWER, CONTENT,
                                       rubric=RUBRIC)
        assert evaluation.score < MASTERY_THRESHOLD
