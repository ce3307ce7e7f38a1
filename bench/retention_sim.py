#!/usr/bin/env python3
"""A behaviour check of the review schedule: FSRS against a fixed rota,
on simulated learners. Not evidence of learning: the simulated memory is
FSRS-like by construction, so FSRS is being tested on the kind of memory
it was designed for.

200 learners (seeded) study 100 concepts over 180 days. Concepts are
introduced 5 a day from day 0 until all 100 are in; a concept is mastered
on the day it is introduced. From then on, every day, each learner reviews
every concept due that day or earlier, and either recalls it (a pass) or
not (a fail, a lapse).

The simulated memory (per learner and concept: a true stability S in days
and a difficulty D in [1, 10]):
- recall probability t days after the last study event:
      R(t, S) = (1 + FACTOR * t / S) ** DECAY
  with fsrs's default DECAY (-0.1542) and FACTOR = 0.9 ** (1 / DECAY) - 1,
  so R(S) = 0.9: S is the interval after which recall falls to 90%;
- at mastery, S is drawn log-normally (median 2 days, times a per-learner
  ability factor), D uniformly in [1, 10];
- after a recall at retrievability R, S grows as FSRS's model says it
  roughly does (more for low D, small S and low R: reviewing late pays),
  times a log-normal noise of sigma 0.2 and the learner's growth factor:
      S *= 1 + growth * e**GAIN_A * (11 - D) * S**-GAIN_B
                     * (e**((1 - R) * GAIN_C) - 1)
- after a failure, S drops to LAPSE_KEEP (30%) of what it was, times
  noise, at least MIN_STABILITY (0.5 day): the learner sees the answer,
  so a lapse is also a study event.

The two schedulers:
- FSRS (the `fsrs` package): default parameters, desired retention 0.9,
  no learning steps, one relearning step of 1 day, fuzzing on; the first
  mastery is a Good review, a pass is Good, a fail is Again;
- a fixed rota: reviews 1, 3, 7 and 30 days after mastery, then every 30
  days; after a lapse the rota restarts from 1 day.

Printed per scheduler: reviews per learner per day (overall and in the
last 30 days), the share recalled at review (overall and in days 150-180)
against the desired 0.9, lapses per learner, total reviews (the first
mastery is not counted as a review) and, for context, the mean recall
probability of all 100 concepts on the last day. Saved:
docs/img/retention-sim.png (reviews per learner per day and the 7-day
rolling share recalled, both schedulers, with the 0.9 target).

Usage: .venv/bin/python bench/retention_sim.py [LEARNERS]  (default 200)
"""

import math
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import machine  # noqa: E402
from fsrs import Card, Rating, Scheduler  # noqa: E402
from fsrs.scheduler import FSRS_DEFAULT_DECAY  # noqa: E402

SEED = 20250601
LEARNERS = 200
CONCEPTS = 100
NEW_PER_DAY = 5
DAYS = 180
LAST_WINDOW = 30             # "last 30 days": days 150-179
ROLLING = 7                  # days in the plot's rolling share
DESIRED_RETENTION = 0.9

# The forgetting curve: fsrs's own shape, R(S) = 0.9.
DECAY = -FSRS_DEFAULT_DECAY
FACTOR = 0.9 ** (1 / DECAY) - 1

# The simulated memory's constants (see the module docstring).
INITIAL_STABILITY_MEDIAN = 2.0    # days
INITIAL_STABILITY_SIGMA = 0.7     # of its logarithm, per concept
ABILITY_SIGMA = 0.3               # per learner, on the initial stability
GROWTH_SIGMA = 0.2                # per learner, on the stability gain
GAIN_A = 1.8                      # FSRS-6 default w8 is 1.87
GAIN_B = 0.17                     # w9 0.167
GAIN_C = 0.8                      # w10 0.796
GAIN_NOISE_SIGMA = 0.2            # per review
LAPSE_KEEP = 0.3
LAPSE_NOISE_SIGMA = 0.3
MIN_STABILITY = 0.5

ROTA = (1, 3, 7, 30)              # days after mastery; then every 30 days

EPOCH = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)
PNG = os.path.join(HERE, '..', 'docs', 'img', 'retention-sim.png')


def recall_probability(elapsed_days, stability):
    return (1 + FACTOR * elapsed_days / stability) ** DECAY


class Memory:
    """One learner's true memory of one concept."""

    __slots__ = ('stability', 'difficulty', 'growth', 'last_day')

    def __init__(self, stability, difficulty, growth, day):
        self.stability = stability
        self.difficulty = difficulty
        self.growth = growth
        self.last_day = day

    def review(self, day, rng):
        """Answer the concept's question on `day`: True if recalled.
        Updates the stability."""
        r = recall_probability(day - self.last_day, self.stability)
        recalled = rng.random() < r
        if recalled:
            gain = (math.exp(GAIN_A) * (11 - self.difficulty)
                    * self.stability ** -GAIN_B
                    * (math.exp((1 - r) * GAIN_C) - 1))
            self.stability *= 1 + self.growth * gain * rng.lognormvariate(
                0, GAIN_NOISE_SIGMA)
        else:
            self.stability = max(MIN_STABILITY, self.stability * LAPSE_KEEP
                                 * rng.lognormvariate(0, LAPSE_NOISE_SIGMA))
        self.last_day = day
        return recalled


def draw_learners(count, rng):
    """Per learner and concept: (initial stability, difficulty, growth)."""
    learners = []
    for _ in range(count):
        ability = rng.lognormvariate(0, ABILITY_SIGMA)
        growth = rng.lognormvariate(0, GROWTH_SIGMA)
        learners.append([
            (ability * rng.lognormvariate(math.log(INITIAL_STABILITY_MEDIAN),
                                          INITIAL_STABILITY_SIGMA),
             rng.uniform(1, 10), growth)
            for _ in range(CONCEPTS)])
    return learners


def introduction_day(concept):
    return concept // NEW_PER_DAY


class FsrsSchedule:
    name = 'FSRS (0.9)'

    def __init__(self):
        self.scheduler = Scheduler(
            desired_retention=DESIRED_RETENTION, learning_steps=(),
            relearning_steps=(timedelta(days=1),), enable_fuzzing=True)

    def _next(self, card, rating, day):
        card, _ = self.scheduler.review_card(
            card, rating, EPOCH + timedelta(days=day))
        return card, (card.due - EPOCH).days

    def master(self, day):
        """The first mastery: (state, due day). The card id is given:
        without one, fsrs's Card() sleeps 1 ms to make its id unique."""
        return self._next(Card(card_id=1), Rating.Good, day)

    def review(self, card, recalled, day):
        return self._next(card, Rating.Good if recalled else Rating.Again,
                          day)


class RotaSchedule:
    name = 'rota 1-3-7-30'

    def master(self, day):
        return 0, day + ROTA[0]

    def review(self, step, recalled, day):
        if not recalled:
            return 0, day + ROTA[0]
        step = min(step + 1, len(ROTA) - 1)
        return step, day + ROTA[step]


def simulate(schedule, learners):
    """Run every learner through `schedule`; per-day totals."""
    rng = random.Random(SEED + 1)      # the same recall draws' stream
    random.seed(SEED + 2)              # fsrs's fuzz uses the random module
    reviews = [0] * DAYS
    recalled = [0] * DAYS
    final_recall = 0.0
    for params in learners:
        memories = {}
        states = {}
        due = [[] for _ in range(DAYS)]
        for day in range(DAYS):
            for concept in range(NEW_PER_DAY * day,
                                 min(CONCEPTS, NEW_PER_DAY * (day + 1))):
                memories[concept] = Memory(*params[concept], day)
                states[concept], due_day = schedule.master(day)
                if due_day < DAYS:
                    due[due_day].append(concept)
            for concept in due[day]:
                ok = memories[concept].review(day, rng)
                reviews[day] += 1
                recalled[day] += ok
                states[concept], due_day = schedule.review(
                    states[concept], ok, day)
                if due_day < DAYS:
                    due[max(due_day, day + 1)].append(concept)
        final_recall += sum(
            recall_probability(DAYS - 1 - m.last_day, m.stability)
            for m in memories.values()) / CONCEPTS
    return {'reviews': reviews, 'recalled': recalled,
            'final_recall': final_recall / len(learners)}


def figures(result, learners):
    reviews, recalled = result['reviews'], result['recalled']
    last = slice(DAYS - LAST_WINDOW, DAYS)
    total = sum(reviews)
    return {
        'per_day': total / learners / DAYS,
        'per_day_last': sum(reviews[last]) / learners / LAST_WINDOW,
        'share': sum(recalled) / total,
        'share_last': sum(recalled[last]) / max(1, sum(reviews[last])),
        'lapses': (total - sum(recalled)) / learners,
        'total': total,
        'final_recall': result['final_recall'],
    }


def print_table(rows):
    header = ('| scheduler | reviews/learner/day | last 30 days '
              '| recalled at review | days 150-180 | lapses/learner '
              '| total reviews | mean R on day 180 |')
    print(header)
    print('|' + '---|' * header.count(' | ') + '---|')
    for name, f in rows:
        print('| %s | %.2f | %.2f | %.3f | %.3f | %.1f | %d | %.3f |' % (
            name, f['per_day'], f['per_day_last'], f['share'],
            f['share_last'], f['lapses'], f['total'], f['final_recall']))


def rolling_share(result):
    shares = []
    for day in range(DAYS):
        window = slice(max(0, day - ROLLING + 1), day + 1)
        n = sum(result['reviews'][window])
        shares.append(sum(result['recalled'][window]) / n if n else None)
    return shares


def plot(results, learners, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), dpi=100,
                                      sharex=True)
    days = list(range(DAYS))
    for name, result in results:
        top.plot(days, [n / learners for n in result['reviews']],
                 label=name, linewidth=1.2)
        bottom.plot(days, rolling_share(result), label=name, linewidth=1.2)
    top.set_ylabel('reviews per learner per day')
    top.set_title('%d simulated learners, %d concepts (%d new a day), '
                  'FSRS-like memory' % (learners, CONCEPTS, NEW_PER_DAY))
    top.legend()
    top.grid(alpha=0.3)
    bottom.axhline(DESIRED_RETENTION, color='black', linestyle='--',
                   linewidth=1, label='target 0.9')
    bottom.set_ylabel('share recalled at review\n(%d-day rolling)' % ROLLING)
    bottom.set_xlabel('day')
    bottom.set_ylim(0.8, 1.0)
    bottom.legend(loc='lower right')
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    learners = int(sys.argv[1]) if len(sys.argv) > 1 else LEARNERS
    print(machine())
    print('%d learners, %d concepts (%d new a day), %d days, seed %d'
          % (learners, CONCEPTS, NEW_PER_DAY, DAYS, SEED), flush=True)
    population = draw_learners(learners, random.Random(SEED))
    results, rows = [], []
    for schedule in (FsrsSchedule(), RotaSchedule()):
        start = time.perf_counter()
        result = simulate(schedule, population)
        print('  %s simulated in %.1f s' % (
            schedule.name, time.perf_counter() - start), flush=True)
        results.append((schedule.name, result))
        rows.append((schedule.name, figures(result, learners)))
    print()
    print_table(rows)
    plot(results, learners, PNG)
    print('\nplot: %s (%d bytes)' % (os.path.normpath(PNG),
                                     os.path.getsize(PNG)))


if __name__ == '__main__':
    main()
