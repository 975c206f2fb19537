"""Tasks as items with questions, and the one procedure that turns a task into the records of a split.

An item is the unit that is split (a word, a country, an email, a speech): all of its questions land in the same
split, and the split depends only on the item's key (common.split_of), so a key such as "word:abandon" is in the
same split in every task that uses it. A question has a kind (which set of phrasings to use), the values for the
phrasing's {slots}, an optional input text and the reference answer.
"""

import dataclasses
import random

from common import Example, split_of, stable_unit


@dataclasses.dataclass
class Question:
    kind: str  # key into Task.templates / Task.shifted_templates
    slots: dict  # values for the template's {fields}
    answer: str  # reference output, compared by exact match
    input: str = ""  # context shown after the instruction ("" for none)


@dataclasses.dataclass
class Item:
    key: str  # split key, "<namespace>:<name>", e.g. "word:abandon", "email:spam-2/00010"
    questions: list  # Question objects, in the order they are used when a cap cuts the item short
    stratum: str = ""  # class used to balance the task (e.g. "spam"/"ham"); "" for none


@dataclasses.dataclass
class Task:
    name: str  # the record's "task" label
    summary: str  # one line for the data card and manifest
    source: str  # where the facts come from
    items: list  # Item objects
    templates: dict  # kind -> phrasings used for train, valid and test
    shifted_templates: dict = dataclasses.field(default_factory=dict)  # kind -> phrasings only in shifted.jsonl
    held_out: bool = False  # True: never in train/valid/test, only in shifted.jsonl as an unseen task


def ordered_items(items, split):
    """Items of one split in a fixed pseudo-random order; strata (if any) interleaved round-robin so that a cap
    keeps the classes balanced."""
    chosen = [item for item in items if split is None or split_of(item.key) == split]
    chosen.sort(key=lambda item: (stable_unit("order:" + item.key), item.key))
    strata = sorted({item.stratum for item in chosen})
    if len(strata) <= 1:
        return chosen
    queues = [[item for item in chosen if item.stratum == s] for s in strata]
    longest = max(len(q) for q in queues)
    return [q[i] for i in range(longest) for q in queues if i < len(q)]


def render(task, item, question, round_index, templates, seed, shift=""):
    """One Example: the phrasing is drawn from `templates[question.kind]` by a generator seeded with the item key,
    so it does not depend on which other items were built."""
    rng = random.Random("%s:%s:%s:%d:%s" % (seed, task.name, item.key, round_index, shift))
    template = rng.choice(templates[question.kind])
    return Example(task.name, template.format(**question.slots), question.input, question.answer, shift)


def select(task, items, cap, seed, templates=None, shift=""):
    """Up to `cap` examples from `items` (already ordered): the first question of every item, then the second of
    every item, and so on, so that a cap spreads over as many items as possible."""
    templates = templates if templates is not None else task.templates
    examples = []
    round_index = 0
    while len(examples) < cap:
        progressed = False
        for item in items:
            if round_index < len(item.questions):
                progressed = True
                examples.append(render(task, item, item.questions[round_index], round_index, templates, seed, shift))
                if len(examples) >= cap:
                    break
        if not progressed:
            break
        round_index += 1
    return examples
