import unittest

import builders_path  # noqa: F401
from spam import parse_email
from text_tasks import MAX_EMAIL_CHARS, email_text

PLAIN = "From: a@example.org\nSubject: Lunch  on\n Friday\nX-Spam-Status: No\n\nSee you at noon.\n\nBob\n"
MULTIPART = ("From: b@example.com\nSubject: WIN\nMIME-Version: 1.0\n"
             "Content-Type: multipart/alternative; boundary=\"XX\"\n\n"
             "--XX\nContent-Type: text/html; charset=us-ascii\n\n<html><style>p {color: red}</style>"
             "<p>Claim your <b>prize</b>&nbsp;now!</p></html>\n--XX--\n")


class ParseEmailTest(unittest.TestCase):
    def test_headers_are_dropped_and_subject_kept(self):
        message = parse_email("easy-ham-1/00001", "easy-ham-1", PLAIN)
        self.assertEqual(message.subject, "Lunch on Friday")
        self.assertEqual(message.body, "See you at noon. Bob")
        self.assertFalse(message.is_spam)

    def test_html_only_mail_is_rendered_as_text(self):
        message = parse_email("spam-1/00001", "spam-1", MULTIPART)
        self.assertEqual(message.body, "Claim your prize now!")
        self.assertTrue(message.is_spam)

    def test_model_input_is_bounded(self):
        long_mail = PLAIN.replace("See you at noon.", "word " * 500)
        text = email_text(parse_email("easy-ham-1/00002", "easy-ham-1", long_mail))
        self.assertTrue(text.startswith("Subject: Lunch on Friday\n\n"))
        self.assertLessEqual(len(text), MAX_EMAIL_CHARS + len("..."))
        self.assertTrue(text.endswith("..."))


if __name__ == "__main__":
    unittest.main()
