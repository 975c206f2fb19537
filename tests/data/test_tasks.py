import re
import unittest

import builders_path  # noqa: F401
from common import SPLITS, Example, split_of
from fact_tasks import arithmetic_task
from task import Item, Question, Task, ordered_items, select


def word_task(name, keys, questions_per_item=1, strata=None):
    items = [Item(key, [Question("q", {"k": key}, "%s-%d" % (key, i)) for i in range(questions_per_item)],
                  stratum=(strata or {}).get(key, "")) for key in keys]
    return Task(name, "", "", items, {"q": ["Q1 {k}", "Q2 {k}"]})


class SplitByItemTest(unittest.TestCase):
    def test_every_item_is_in_exactly_one_split(self):
        task = word_task("t", ["word:%d" % i for i in range(2000)])
        per_split = {split: {item.key for item in ordered_items(task.items, split)} for split in SPLITS}
        self.assertEqual(sum(len(keys) for keys in per_split.values()), 2000)
        self.assertEqual(set.union(*per_split.values()), {item.key for item in task.items})

    def test_split_fractions_are_about_ten_percent(self):
        splits = [split_of("word:%d" % i) for i in range(20000)]
        self.assertAlmostEqual(splits.count("test") / 20000, 0.1, delta=0.01)
        self.assertAlmostEqual(splits.count("valid") / 20000, 0.1, delta=0.01)

    def test_a_key_has_the_same_split_in_every_task(self):
        keys = ["word:%d" % i for i in range(500)]
        first, second = word_task("a", keys), word_task("b", list(reversed(keys)))
        for split in SPLITS:
            self.assertEqual({i.key for i in ordered_items(first.items, split)},
                             {i.key for i in ordered_items(second.items, split)})

    def test_no_item_contributes_to_two_splits_after_selection(self):
        task = word_task("t", ["word:%d" % i for i in range(300)], questions_per_item=3)
        seen = {}
        for split in SPLITS:
            for example in select(task, ordered_items(task.items, split), 10_000, "seed"):
                key = example.output.rsplit("-", 1)[0]
                self.assertEqual(seen.setdefault(key, split), split)


class SelectTest(unittest.TestCase):
    def test_round_robin_takes_first_questions_first(self):
        task = word_task("t", ["a", "b"], questions_per_item=3)
        outputs = [e.output for e in select(task, task.items, 4, "seed")]
        self.assertEqual(outputs, ["a-0", "b-0", "a-1", "b-1"])

    def test_strata_are_balanced_under_a_cap(self):
        keys = ["ham:%d" % i for i in range(100)] + ["spam:%d" % i for i in range(10)]
        task = word_task("t", keys, strata={k: k.split(":")[0] for k in keys})
        chosen = select(task, ordered_items(task.items, None), 20, "seed")
        self.assertEqual(sum(e.output.startswith("spam") for e in chosen), 10)

    def test_template_choice_is_seeded(self):
        task = word_task("t", ["word:%d" % i for i in range(50)])
        first = [e.instruction for e in select(task, task.items, 50, "seed")]
        again = [e.instruction for e in select(task, list(task.items), 50, "seed")]
        other = [e.instruction for e in select(task, task.items, 50, "other")]
        self.assertEqual(first, again)
        self.assertNotEqual(first, other)
        self.assertEqual({i.split()[0] for i in first}, {"Q1", "Q2"})


class ArithmeticTest(unittest.TestCase):
    def test_answers_are_correct(self):
        task = arithmetic_task(600, "seed")
        pattern = re.compile(r"(\d+) ([-+*]|plus|minus|times) (\d+)")
        operations = {"+": int.__add__, "plus": int.__add__, "-": int.__sub__, "minus": int.__sub__,
                      "*": int.__mul__, "times": int.__mul__}
        examples = select(task, task.items, 600, "seed") + select(task, task.items, 600, "seed",
                                                                  task.shifted_templates, shift="template")
        for example in examples:
            a, op, b = pattern.search(example.instruction).groups()
            self.assertEqual(example.output, str(operations[op](int(a), int(b))), example.instruction)
            self.assertGreaterEqual(int(example.output), 0)

    def test_items_are_distinct_and_operators_balanced(self):
        task = arithmetic_task(300, "seed")
        self.assertEqual(len({item.key for item in task.items}), 300)
        self.assertEqual(sorted(item.stratum for item in task.items).count("*"), 100)


class RecordFormatTest(unittest.TestCase):
    def test_both_formats_hold_the_same_example(self):
        example = Example("spam", "Is this email spam?", "Subject: hi\n\nbody", "no")
        alpaca, messages = example.to_alpaca(), example.to_messages()
        self.assertEqual(alpaca, {"instruction": "Is this email spam?", "input": "Subject: hi\n\nbody",
                                  "output": "no", "task": "spam"})
        self.assertEqual(messages["messages"][0], {"role": "user",
                                                   "content": "Is this email spam?\n\nSubject: hi\n\nbody"})
        self.assertEqual(messages["messages"][1], {"role": "assistant", "content": "no"})
        self.assertEqual(messages["task"], "spam")

    def test_empty_input_adds_nothing_to_the_user_turn(self):
        example = Example("capital", "What is the capital of Chad?", "", "N'Djamena", shift="template")
        self.assertEqual(example.to_messages()["messages"][0]["content"], "What is the capital of Chad?")
        self.assertEqual(example.to_alpaca()["shift"], "template")


if __name__ == "__main__":
    unittest.main()
