# berth: `make demo` runs the main job, `make test` passes the tests. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := build

APT_PACKAGES := runc crun conmon netavark aardvark-dns iptables iproute2 busybox-static tini gcc libc6-dev \
	golang-github-containers-common docker-registry skopeo tmux debootstrap
BERTH_SOCK ?= /run/berth/berth.sock
DEMO_LOG ?= /var/log/berthd.log
PREFIX ?= /usr/local
SYSTEMD_UNIT_DIR ?= /etc/systemd/system

.PHONY: deps apt-deps npm-deps test-tools build demo test test-unit install uninstall clean bench bench-build stop-daemon

# The end-to-end tests drive Debian's docker CLI 20.10 too. Installing docker.io would bring a
# dockerd service along, so only its client binary is unpacked, into a cache outside the repo.
DOCKER20_DIR ?= /var/cache/berth-test/docker.io

apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

node_modules/.stamp: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 || npm ci --no-audit --no-fund
	@touch $@

npm-deps: node_modules/.stamp

deps: apt-deps npm-deps

# The image interop tests run a private dockerd (Debian's docker.io). Its package would start
# docker and containerd services: a policy-rc.d keeps them from starting while it installs.
test-tools: apt-deps
	@if [ ! -x /usr/sbin/dockerd ]; then \
	  echo "installing docker.io (dockerd for the interop tests; its services are not started)"; \
	  own_policy=0; if [ ! -e /usr/sbin/policy-rc.d ]; then own_policy=1; printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq >/dev/null; apt-get install -y -qq --no-install-recommends docker.io >/dev/null; rc=$$?; \
	  if [ $$own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; \
	  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then \
	    systemctl disable --now docker.service docker.socket containerd.service >/dev/null 2>&1 || true; \
	  fi; \
	  [ $$rc = 0 ] || exit $$rc; \
	fi
	@if [ ! -x /usr/bin/docker ] && [ ! -x $(DOCKER20_DIR)/usr/bin/docker ]; then \
	  echo "unpacking Debian's docker CLI into $(DOCKER20_DIR)"; \
	  mkdir -p $(DOCKER20_DIR) && cd $(DOCKER20_DIR) && apt-get download -qq docker.io >/dev/null 2>&1 && \
	  dpkg-deb -x docker.io_*.deb . && rm -f docker.io_*.deb; \
	fi

# The launcher crun runs through on hybrid cgroup hosts (docs/decisions.md); without a C
# compiler berthd uses an equivalent shell script.
NATIVE_LAUNCHER := dist/native/berth-hybrid-launch

build: npm-deps $(NATIVE_LAUNCHER)
	@node_modules/.bin/tsc -p tsconfig.json

$(NATIVE_LAUNCHER): native/hybrid-launch.c
	@mkdir -p $(dir $@)
	@if command -v cc >/dev/null 2>&1; then cc -O2 -Wall -Werror -o $@ $<; else echo "no C compiler: berthd will use the shell launcher"; fi

demo: deps build
	@bash scripts/demo.sh

test: deps test-tools build
	@DOCKER20_CLI=$$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo $(DOCKER20_DIR)/usr/bin/docker ) node scripts/run-tests.mjs

test-unit: npm-deps build
	@node scripts/run-tests.mjs unit

bench: deps build
	@node dist/bench/run-bench.js

bench-build: deps build
	@node dist/bench/build-bench.js

install: build
	@ln -sf $(CURDIR)/bin/berth $(PREFIX)/bin/berth
	@ln -sf $(CURDIR)/bin/berthd $(PREFIX)/bin/berthd
	@echo "berth and berthd linked into $(PREFIX)/bin"
	@install -d $(SYSTEMD_UNIT_DIR)
	@sed 's|/usr/local/bin/berthd|$(PREFIX)/bin/berthd|' contrib/systemd/berth.service > $(SYSTEMD_UNIT_DIR)/berth.service
	@install -m 0644 contrib/systemd/berth.socket $(SYSTEMD_UNIT_DIR)/berth.socket
	@getent group berth >/dev/null || groupadd -r berth
	@if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "berth.service and berth.socket installed in $(SYSTEMD_UNIT_DIR) (enable with: systemctl enable --now berth.socket berth.service)"

uninstall:
	@rm -f $(PREFIX)/bin/berth $(PREFIX)/bin/berthd $(SYSTEMD_UNIT_DIR)/berth.service $(SYSTEMD_UNIT_DIR)/berth.socket

stop-daemon:
	@if [ -f /run/berth/berthd.pid ]; then kill "$$(cat /run/berth/berthd.pid)" && echo "berthd stopped"; else echo "berthd is not running"; fi

clean:
	rm -rf dist dist-*
