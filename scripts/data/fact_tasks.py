"""Fact tasks: bsdgames quiz files (capitals, elements, presidents, collective nouns), man page summaries, and
arithmetic whose answers are computed here.
"""

import os
import random

from quiz import read_quiz
from task import Item, Question, Task

# Quiz files with "place:capital" lines (quiz index: Africa/America/Asia/Europe{an}:cap{ital}, province:cap,
# state:cap:abbr:flower), and how a place from each file is named in a question: states and provinces say what
# they are, which also tells the US state Georgia (Atlanta) from the country (Tbilisi). Middle-earth (midearth) is
# left out: its capitals are fiction.
_CAPITAL_FILES = (("africa", 2, "{}"), ("america", 2, "{}"), ("asia", 2, "{}"), ("europe", 2, "{}"),
                  ("province", 2, "the Canadian province of {}"), ("state", 4, "the U.S. state of {}"))


def capital_task(quiz_dir, skips):
    capitals = {}
    for name, n_categories, naming in _CAPITAL_FILES:
        for row in read_quiz(os.path.join(quiz_dir, name), n_categories, skips, "quiz/" + name,
                             prefer=("longest", "first")):
            place, capital = naming.format(row[0]), row[1]
            if place in capitals and capitals[place] != capital:
                skips.add("quiz/" + name, "place listed twice with another capital")
                continue
            capitals[place] = capital
    items = [Item("place:" + place.lower(), [Question("capital", {"place": place}, capitals[place])])
             for place in sorted(capitals)]
    return Task(
        "capital", "capital of a country, dependency, US state or Canadian province", "bsdgames quiz files", items,
        {"capital": ["What is the capital of {place}?", "Name the capital city of {place}.",
                     "Tell me the capital of {place}."]},
        {"capital": ["Which city is the seat of government of {place}?",
                     "If you fly to the capital of {place}, which city do you land in?"]})


def element_task(quiz_dir, skips):
    """quiz `elements` lines are symbol:number:weight:element."""
    items = []
    for symbol, number, _, element in read_quiz(os.path.join(quiz_dir, "elements"), 4, skips, "quiz/elements"):
        items.append(Item("element:" + element.lower(), [
            Question("symbol", {"element": element}, symbol),
            Question("name", {"symbol": symbol}, element),
            Question("number", {"element": element}, number),
        ]))
    return Task(
        "element", "chemical element: name to symbol, symbol to name, name to atomic number",
        "bsdgames quiz file elements", items,
        {"symbol": ["What is the chemical symbol for {element}?", "Give the element symbol of {element}."],
         "name": ["Which chemical element has the symbol {symbol}?", "Name the element whose symbol is {symbol}."],
         "number": ["What is the atomic number of {element}?", "{element} has which atomic number?"]},
        {"symbol": ["On the periodic table, how is {element} abbreviated?"],
         "name": ["The periodic table lists {symbol}: which element is that?"],
         "number": ["How many protons does an atom of {element} have?"]})


def us_president_task(quiz_dir, skips):
    """quiz `pres` lines are president:term:vice-president:successor (the last line, with no successor, is skipped
    by read_quiz). Vice presidents are not asked: a line lists several as alternatives."""
    items = []
    for president, term, _, successor in read_quiz(os.path.join(quiz_dir, "pres"), 4, skips, "quiz/pres"):
        items.append(Item("president:" + president.lower(), [
            Question("term", {"president": president}, term),
            Question("successor", {"president": president}, successor),
        ]))
    return Task(
        "us_president", "US presidents to 2009: years in office and successor", "bsdgames quiz file pres", items,
        {"term": ["In which years was {president} President of the United States?",
                  "When did {president} serve as U.S. president?"],
         "successor": ["Who succeeded {president} as President of the United States?",
                       "Who became U.S. president after {president}?"]},
        {"term": ["Give the span of years of the {president} presidency."],
         "successor": ["Which president came next after {president} left office?"]})


def collective_noun_task(quiz_dir, skips):
    """Held out: only in shifted.jsonl. quiz `collectives` lines are individuals:collective."""
    items = [Item("collective:" + plural.lower(), [Question("collective", {"plural": plural}, collective)])
             for plural, collective in read_quiz(os.path.join(quiz_dir, "collectives"), 2, skips,
                                                 "quiz/collectives")]
    templates = {"collective": ["What is a group of {plural} called?", "What is the collective noun for {plural}?"]}
    return Task("collective_noun", "collective noun for a group of animals or people; held out from training",
                "bsdgames quiz file collectives", items, templates, templates, held_out=True)


def command_summary_task(summaries):
    items = [Item("command:" + s.command, [Question("whatis", {"command": s.command}, s.summary)])
             for s in summaries]
    return Task(
        "command_summary", "what a command does: the one-line NAME summary of its manual page",
        "man pages (sections 1, 6, 8) of a fixed list of Debian packages", items,
        {"whatis": ["What does the {command} command do?", "Describe the {command} command in one line.",
                    "What is {command} used for?"]},
        {"whatis": ["Summarize the purpose of the Linux program `{command}`.",
                    "I found {command} on my system. What is it?"]})


# Operand digit counts per operator: sums and differences of 2-4 digit numbers, products of a 2-3 digit number and
# a 1-2 digit number, so a small model can learn the procedure and exact match is meaningful.
_ARITHMETIC = (("+", (2, 4), (2, 4)), ("-", (2, 4), (2, 4)), ("*", (2, 3), (1, 2)))


def _number(rng, digits):
    n_digits = rng.randint(*digits)
    return rng.randint(10 ** (n_digits - 1), 10**n_digits - 1)


def arithmetic_task(n_items, seed):
    rng = random.Random("%s:arithmetic" % seed)
    seen, items = set(), []
    while len(items) < n_items:
        op, left_digits, right_digits = _ARITHMETIC[len(items) % len(_ARITHMETIC)]
        a, b = _number(rng, left_digits), _number(rng, right_digits)
        if op == "-" and b > a:
            a, b = b, a  # keep differences non-negative
        key = "arith:%d%s%d" % (a, op, b)
        if key in seen:
            continue
        seen.add(key)
        value = a + b if op == "+" else a - b if op == "-" else a * b
        words = {"+": "plus", "-": "minus", "*": "times"}[op]
        items.append(Item(key, [Question("arith", {"a": a, "b": b, "op": op, "op_words": words}, str(value))],
                          stratum=op))
    return Task(
        "arithmetic", "multi-digit addition, subtraction and multiplication; answers computed exactly",
        "generated (seeded)", items,
        {"arith": ["What is {a} {op} {b}?", "Compute {a} {op} {b}.", "Calculate: {a} {op} {b} ="]},
        {"arith": ["What do you get when you take {a} {op_words} {b}?", "Work out {a} {op_words} {b}."]})
