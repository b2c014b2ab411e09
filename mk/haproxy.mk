# haproxy.mk - echoserv behind a real load balancer: Debian's haproxy,
# run in the foreground with the shipped contrib/haproxy/echoserv.cfg
# itself, in front of two echoserv --proxy-from on loopback
# (tests/haproxy/test_haproxy.py; its scratch files in
# $(BUILD)/haproxy-check/).
#
#   haproxy-check   health checks through the PROXY v2 header; clients
#                   echoed, logged with their own addresses and limited
#                   per address; a server stopped with SIGTERM drains
#                   while new clients move to the other; part of make check

.PHONY: haproxy-check

CHECKS += haproxy-check

haproxy-check: deps $(BUILD)/echoserv
	@echo "== contrib/haproxy/echoserv.cfg: two echoserv behind haproxy"
	@python3 tests/haproxy/test_haproxy.py $(BUILD)
