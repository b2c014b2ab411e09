"""The cases, one module per kind; importing this package registers them
all, in the order they run (registry.py):

  raw       RFC 862: every byte back, no framing (first, so that in the
            raw profile raw-one is the first echo, as line-one is in the
            others)
  basic     one client's conversation: one line, many, byte by byte,
            every byte value, the longest line, silence, end of input
  echoserv  the contract of docs/protocol.md: quit, the limits, the
            timeouts, capacity
  model     the I/O model, from /proc (with --pid or --server)
  load      many clients, a client that never reads, a slow reader,
            resets, 1,000 idle connections, 10,000 connections, and the
            server still answering at the end
  shutdown  SIGTERM with replies queued (only a server echocheck started;
            it ends the server, so it comes last)
"""

from . import raw, basic, echoserv, model, load, shutdown  # noqa: F401
