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
  cases/         the cases, one module per kind (cases/__init__.py says
                 which), in the order they run
  procfs         reading a process out of /proc and naming its model
  report_text    the table on the terminal
  report_json    --json and --junit
  report_html    --html: one self-contained page

Only the Python 3 standard library is used.
"""

VERSION = "1.1.0"
