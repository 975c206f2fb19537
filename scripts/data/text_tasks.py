"""Tasks over longer texts: spam detection (SpamAssassin) and speaker attribution (State of the Union)."""

import random

from common import truncate_words
from sotu import passages
from task import Item, Question, Task

MAX_EMAIL_CHARS = 400
# The shifted set's "domain" emails: hard ham (legitimate mail that looks like spam) is never in train/valid/test.
SHIFTED_SPAM_GROUPS = ("hard-ham-1",)

_SPAM_TEMPLATES = {"spam": ["Is this email spam? Answer yes or no.",
                            "Answer yes or no: is the following message spam?",
                            "Is the email below unsolicited bulk mail (spam)? Reply yes or no."]}


def email_text(message):
    """What the model sees of an email: its subject line and the start of its body, MAX_EMAIL_CHARS in all."""
    head = "Subject: %s\n\n" % message.subject
    return head + truncate_words(message.body, max(MAX_EMAIL_CHARS - len(head), 80))


def unique_emails(emails, skips):
    """The emails whose visible text (email_text) differs from every earlier one's. The corpus holds the same spam
    several times (within and across spam-1 and spam-2); splitting by message would put copies in train and test."""
    seen, unique = set(), []
    for message in emails:
        text = email_text(message)
        if text in seen:
            skips.add("spam-assassin", "duplicate of an earlier message's text")
            continue
        seen.add(text)
        unique.append(message)
    return unique


def _email_item(message):
    answer = "yes" if message.is_spam else "no"
    question = Question("spam", {}, answer, email_text(message))
    return Item("email:" + message.key, [question], stratum="spam" if message.is_spam else "ham")


def spam_task(emails):
    items = [_email_item(m) for m in emails if m.group not in SHIFTED_SPAM_GROUPS]
    return Task(
        "spam", "is an email spam (yes/no); subject and first %d characters" % MAX_EMAIL_CHARS,
        "SpamAssassin public corpus (easy-ham-1, easy-ham-2, spam-1, spam-2)", items, _SPAM_TEMPLATES,
        {"spam": ["Would a good mail filter send this message to the junk folder? Answer yes or no.",
                  "Here is a message from my inbox. Is it spam (yes) or a real email (no)?"]})


def hard_ham_items(emails):
    """Items of the emails kept out of the spam task for the shifted set (all legitimate: answer "no")."""
    return [_email_item(m) for m in emails if m.group in SHIFTED_SPAM_GROUPS]


def speech_items(speeches, seed, skips):
    """One item per speech; its questions are the speech's passages in a seeded order (so a cap takes passages
    from all over the speech, not only its opening). A passage found in more than one speech is dropped."""
    chunks_of = {speech.key: passages(speech.text) for speech in speeches}
    speeches_with = {}
    for key, chunks in chunks_of.items():
        for chunk in set(chunks):
            speeches_with[chunk] = speeches_with.get(chunk, 0) + 1
    items = []
    for speech in speeches:
        chunks = [c for c in chunks_of[speech.key] if speeches_with[c] == 1]
        if len(chunks) < len(chunks_of[speech.key]):
            skips.add("sotu", "passage repeated in another speech", len(chunks_of[speech.key]) - len(chunks))
        random.Random("%s:%s" % (seed, speech.key)).shuffle(chunks)
        questions = [Question("speaker", {}, speech.president, chunk) for chunk in chunks]
        if questions:
            items.append(Item("speech:" + speech.key, questions))
    return items


def sotu_president_task(speeches, seed, skips):
    return Task(
        "sotu_president", "which president gave the State of the Union address a passage comes from",
        "State of the Union addresses 1790-2021", speech_items(speeches, seed, skips),
        {"speaker": ["Which U.S. president gave the State of the Union address that contains this passage?",
                     "This passage is from a State of the Union address. Who delivered it?",
                     "Name the president who said the following in a State of the Union address."]},
        {"speaker": ["Identify the speaker of this excerpt from an annual message to Congress.",
                     "Who is the author of these words? (A U.S. president, in an address to Congress.)"]})
