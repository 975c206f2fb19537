"""Word-level tasks from WordNet 3.0 and the CMU Pronouncing Dictionary.

Every task uses only "plain words": lower-case letters only, at least three of them, present in CMUdict (so they
are words people say, not only technical terms) and written in lower case in their WordNet synset (so "abraham"
is not taken for a common noun). Answers are what the resource says, chosen so that each question has one answer:
the first (most frequent) sense's definition, the only synonym, the only part of speech, the only antonym.
"""

import re

from cmudict import syllable_count
from task import Item, Question, Task
from wordnet import POS_NAMES

MAX_DEFINITION_CHARS = 100
_PLAIN_WORD = re.compile(r"^[a-z]{3,}$")
_PLAIN_ANSWER = re.compile(r"^[a-z][a-z -]*[a-z]$")


class Lexicon:
    """WordNet and CMUdict together, with the plain words (see the module docstring) computed once."""

    def __init__(self, wn, cmu):
        self.wn = wn
        self.cmu = cmu
        self.plain_words = plain_words(wn, cmu)


def plain_words(wn, cmu):
    """Sorted plain words (see the module docstring) with their WordNet index entries."""
    words = []
    for lemma in sorted(wn.index):
        if not _PLAIN_WORD.match(lemma) or lemma not in cmu:
            continue
        entries = wn.index[lemma]
        first = wn.senses(lemma, next(iter(entries)))
        if first and lemma in first[0].lemmas:
            words.append((lemma, entries))
    return words


def _short_definition(synset):
    definition = synset.definition
    if len(definition) > MAX_DEFINITION_CHARS:
        definition = definition.split(";")[0].strip()
    return definition if 0 < len(definition) <= MAX_DEFINITION_CHARS else ""


def definition_task(lexicon):
    items = []
    for lemma, entries in lexicon.plain_words:
        entry = max(entries.values(), key=lambda e: e.tagsense_cnt)  # the part of speech the word is most used as
        if entry.tagsense_cnt == 0:
            continue  # never tagged in SemCor: too rare to ask about
        senses = lexicon.wn.senses(lemma, entry.pos)
        definition = _short_definition(senses[0]) if senses else ""
        if definition:
            slots = {"word": lemma, "pos": POS_NAMES[entry.pos]}
            items.append(Item("word:" + lemma, [Question("define", slots, definition)]))
    return Task(
        "definition", "define a word (its most frequent sense) as WordNet does", "WordNet 3.0 glosses", items,
        {"define": ['Define the {pos} "{word}".', 'What does the {pos} "{word}" mean?',
                    'Give a short definition of "{word}" ({pos}).']},
        {"define": ['In a dictionary, how would the {pos} "{word}" be explained?',
                    "Explain the meaning of the word {word}, used as a {pos}."]})


def synonym_task(lexicon):
    items = []
    for lemma, entries in lexicon.plain_words:
        others = set()
        for pos in entries:
            for synset in lexicon.wn.senses(lemma, pos):
                others.update(word for word in synset.lemmas if word.lower() != lemma)
        if len(others) == 1:
            synonym = others.pop()
            if _PLAIN_ANSWER.match(synonym):
                items.append(Item("word:" + lemma, [Question("synonym", {"word": lemma}, synonym)]))
    return Task(
        "synonym", "give the synonym of a word that has exactly one in WordNet", "WordNet 3.0 synsets", items,
        {"synonym": ['Give a synonym for "{word}".', 'What is another word for "{word}"?',
                     'Name a word that means the same as "{word}".']},
        {"synonym": ['Which word could replace "{word}" without changing the meaning?',
                     '"{word}" means the same as which other word?']})


def part_of_speech_task(lexicon):
    items = []
    for lemma, entries in lexicon.plain_words:
        if len(entries) == 1:
            pos = POS_NAMES[next(iter(entries))]
            items.append(Item("word:" + lemma, [Question("pos", {"word": lemma}, pos)], stratum=pos))
    return Task(
        "part_of_speech", "noun, verb, adjective or adverb, for words with one part of speech in WordNet",
        "WordNet 3.0 index files", items,
        {"pos": ['What part of speech is "{word}"?', 'Is "{word}" a noun, a verb, an adjective or an adverb?',
                 'Which part of speech does the word "{word}" belong to?']},
        {"pos": ['Classify the word "{word}" by its grammatical category.',
                 'Tell me the word class of "{word}" (noun, verb, adjective or adverb).']})


def _cmu_words(lexicon):
    return [(lemma, lexicon.cmu[lemma]) for lemma, _ in lexicon.plain_words]


def syllables_task(lexicon):
    items = []
    for lemma, pronunciations in _cmu_words(lexicon):
        counts = {syllable_count(p) for p in pronunciations}
        if len(counts) == 1:
            items.append(Item("word:" + lemma, [Question("syllables", {"word": lemma}, str(counts.pop()))]))
    return Task(
        "syllables", "number of syllables (vowel phonemes in CMUdict; all pronunciations agree)", "CMUdict 0.7b",
        items,
        {"syllables": ['How many syllables are in the word "{word}"?', 'Count the syllables in "{word}".',
                       '"{word}" has how many syllables?']},
        {"syllables": ['If you clap once per syllable while saying "{word}", how many claps is that?',
                       'Number of syllables in {word}?']})


def pronunciation_task(lexicon):
    items = []
    for lemma, pronunciations in _cmu_words(lexicon):
        if len(pronunciations) == 1:
            items.append(Item("word:" + lemma, [Question("arpabet", {"word": lemma}, pronunciations[0])]))
    return Task(
        "pronunciation", "ARPAbet phonemes with stress digits, for words with one pronunciation in CMUdict",
        "CMUdict 0.7b", items,
        {"arpabet": ['Give the ARPAbet pronunciation of "{word}".',
                     'How is "{word}" pronounced? Answer in ARPAbet phonemes.',
                     'Write "{word}" in CMU Pronouncing Dictionary phonemes.']},
        {"arpabet": ['Transcribe "{word}" phonetically using the ARPAbet symbols with stress marks.',
                     "Phonemes for {word} (ARPAbet)?"]})


def antonym_task(lexicon):
    """Held out: only in shifted.jsonl, so it measures a task the model never saw."""
    antonyms = {}
    for word, other in lexicon.wn.antonym_pairs():
        antonyms.setdefault(word, set()).add(other)
    plain = {lemma for lemma, _ in lexicon.plain_words}
    items = []
    for word in sorted(antonyms):
        if word in plain and len(antonyms[word]) == 1:
            other = next(iter(antonyms[word]))
            if _PLAIN_ANSWER.match(other):
                items.append(Item("word:" + word, [Question("antonym", {"word": word}, other)]))
    templates = {"antonym": ['What is the opposite of "{word}"?', 'Give an antonym of "{word}".']}
    return Task("antonym", "the antonym of an adjective (WordNet direct antonyms); held out from training",
                "WordNet 3.0 adjective antonym pointers", items, templates, templates, held_out=True)
