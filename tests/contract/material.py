"""What the contract tests ask every real language model: study material
(a passage, a question on it, the answer expected and a good learner's
answer) and the checks of the answers' shapes, run by each provider's
contract module with a subclass of `ContractCases` named `Test...` and a
module-scoped `provider` fixture."""

from tracl.llm import GeneratedQuestion
from tracl.llm import prompts

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
