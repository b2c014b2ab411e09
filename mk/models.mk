# models.mk - the tests particular to each comparison server's I/O model
# (tests/models/test_models.py): the iterative server's waiting second
# client, signal-queue overflow, aio's helper threads, io_uring refused.
# The protocol rules themselves run against every server by name
# (protocol-check, PROTOCOL_SERVERS in bench.mk).

CHECKS += models-check

.PHONY: models-check

models-check: programs
	python3 tests/models/test_models.py $(BUILD)
