#!/usr/bin/env python3
"""The offline provider's speed: academic sentences, questions for a
20-concept path, grading latency after warm-up (issue 5 goals: 20 questions
<= 300 ms, grading p95 <= 30 ms), and the model loaded once per process.

Usage: .venv/bin/python bench/llm_bench.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests'))

from common import machine, measure, report  # noqa: E402
from support.envs import load_plugin_modules  # noqa: E402
from trac.test import EnvironmentStub  # noqa: E402

from tracl.corpus import load_starter_corpus  # noqa: E402
from tracl.llm import LearningLLM  # noqa: E402


def main():
    load_plugin_modules()
    print('Offline LLM provider benchmark on', machine())
    env = EnvironmentStub(enable=['trac.*', 'tracl.*'])
    provider = LearningLLM(env).provider
    chunks = load_starter_corpus()
    path = chunks[:20]

    report('5 academic sentences', measure(
        lambda: provider.academic_sentences(
            'I want to understand machine learning'), 200))

    def questions():
        return [provider.generate_question(c['concept'], c['content'],
                                           c['difficulty_level'], 'q')
                for c in path]
    report('questions for a 20-concept path (total)', measure(questions, 50))

    generated = questions()
    start = time.perf_counter()
    provider.evaluate(generated[0].question, generated[0].expected_answer,
                      'A first answer loads the model.', '')
    print('  first evaluation in this process (model load): %.0f ms'
          % ((time.perf_counter() - start) * 1000))

    answers = ['It keeps data safe because it is a fingerprint of the data.',
               'I think it is about computers and maybe networks.',
               generated[1].expected_answer[:200]]
    # Warm-up: every expected answer graded once (its embedding cached).
    for item in generated:
        provider.evaluate(item.question, item.expected_answer, answers[0], '')
    counter = {'i': 0}

    def grade():
        item = generated[counter['i'] % len(generated)]
        answer = answers[counter['i'] % len(answers)] + ' %d' % counter['i']
        counter['i'] += 1
        provider.evaluate(item.question, item.expected_answer, answer, '')
    report('grade one answer after warm-up', measure(grade, 300))

    cold = {'i': 0}

    def grade_new_expected():
        chunk = chunks[40 + cold['i'] % 100]
        cold['i'] += 1
        item = provider.generate_question(chunk['concept'], chunk['content'],
                                          3, 'q')
        provider.evaluate(item.question, item.expected_answer, answers[0], '')
    report('grade the first answer to a new concept', measure(
        grade_new_expected, 100, warmup=0))


if __name__ == '__main__':
    main()
