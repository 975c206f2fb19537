import unittest

import builders_path  # noqa: F401
from manpages import name_section, troff_text


class NameSectionTest(unittest.TestCase):
    def test_man_macros(self):
        source = '.TH LS 1\n.SH NAME\nls \\- list directory contents\n.SH SYNOPSIS\n.B ls\n'
        self.assertEqual(name_section(source), (["ls"], "list directory contents"))

    def test_quoted_header_and_several_names(self):
        source = '.SH "NAME"\ngzip, gunzip, zcat \\- compress or expand files\n.SH "SYNOPSIS"\n'
        self.assertEqual(name_section(source), (["gzip", "gunzip", "zcat"], "compress or expand files"))

    def test_only_the_first_entry_of_a_multi_command_page(self):
        source = (".SH NAME\nbzip2, bunzip2 \\- a block-sorting file compressor, v1.0.8\n.br\n"
                  "bzcat \\- decompresses files to stdout\n.SH SYNOPSIS\n")
        self.assertEqual(name_section(source)[1], "a block-sorting file compressor, v1.0.8")

    def test_paragraph_request_ends_the_summary(self):
        source = '.SH "NAME"\nchoom \\- display and adjust OOM\\-killer score.\n.sp\n\\fBchoom\\fP \\fB\\-p\\fP PID\n'
        self.assertEqual(name_section(source)[1], "display and adjust OOM-killer score.")

    def test_continuation_lines_and_comments(self):
        source = ".SH NAME\npreconv \\- convert encoding of input files to something GNU troff \\\nunderstands\n" \
                 '.\\" a comment\n.SH SYNOPSIS\n'
        self.assertEqual(name_section(source)[1], "convert encoding of input files to something GNU troff understands")

    def test_mdoc_macros(self):
        source = ".Sh NAME\n.Nm go-fish\n.Nd play\n.Dq Go Fish\n.Sh SYNOPSIS\n.Nm\n"
        self.assertEqual(name_section(source), (["go-fish"], 'play "Go Fish"'))

    def test_no_name_section(self):
        self.assertIsNone(name_section(".TH X 1\n.SH DESCRIPTION\ntext\n"))


class TroffTextTest(unittest.TestCase):
    def test_fonts_and_escapes(self):
        self.assertEqual(troff_text("\\fBlogname\\fR \\- print user\\'s login name \\(em \\*(lqhi\\*(rq"),
                         "logname - print user's login name — \"hi\"")


if __name__ == "__main__":
    unittest.main()
