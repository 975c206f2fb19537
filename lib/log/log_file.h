// The log file (LoggingOptions::file, `--log-file`) and what happens when it cannot be written.
//
// configure_logging opens it for appending and, when it takes debug records (file_level debug or trace, as the
// CLI's does), writes a first record at once, so that a file that cannot be written (a full disk, /dev/full) fails
// there with ladle::Error "FILE: cannot open the log: REASON" or "FILE: cannot write the log: REASON", before any
// work is done. A write that fails later cannot stop the command where it happens (records are written from
// destructors, which must not throw): the file sink writes nothing more, says so once on stderr, and the program
// calls check_log_file() before it reports success, so a lost log still ends the command with an error.
#pragma once

namespace ladle::log {

// Throws ladle::Error "FILE: cannot write the log: REASON" (e.g. "No space left on device") when a record could
// not be written to the log file since it was configured.
void check_log_file();

}  // namespace ladle::log
