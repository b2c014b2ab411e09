"""echocheck - the conformance and robustness checker for echo servers.

The package behind scripts/echocheck (and the single-file build/echocheck
that `make` zips from it).  One job per module:

  cli            the command line, the run, the exit status
  target         the server's address, and a local server started from a
                 command with {PORT}
  wire           the wire log of a case and one logged client connection
  fleet          many nonblocking connections driven by one selector
  verdict        the five verdicts, a case's result, comparing echoes
  registry       the list of cases and the runner that bounds each one
  cases_lines    framing cases of the line profile (and echoserv's)
  cases_raw      the RFC 862 cases of the raw profile
  cases_echoserv the contract of docs/protocol.md: quit, limits, timeouts
  cases_load     concurrency and robustness: many clients, resets, churn
  cases_model    the server's I/O model, named from /proc
  procfs         reading a process out of /proc and naming its model
  report_text    the table on the terminal
  report_json    --json and --junit
  report_html    --html: one self-contained page

Only the Python 3 standard library is used.
"""

VERSION = "1.1.0"
