# living-hta — every entry point.  `make demo` and `make test` set up what
# they need (a .venv in the repo, Debian packages, images) on first use.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Python caches each module's byte code (__pycache__, ignored by git) as it
# does by default: an environment that turns that off
# (PYTHONDONTWRITEBYTECODE=1, as some containers do) has every process,
# Ansible's and each of its module runs, moto's, the tests', compile all it
# imports from source again (bench/RESULTS.md, "Test suite").
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help setup system demo demo-down report check test iam-policy bench bench-analysis bench-service bench-hardening bench-front bench-cost role-docs image base-image bench-image bench-deploy bench-demo bench-deploy-in-place clean

help:
	@echo "make demo       set up and run the main job"
	@echo "make demo-down  stop and remove everything the demo started"
	@echo "make report     the living-HTA report against the running demo (reports/demo/)"
	@echo "make check      the fast tier: tests needing no Docker and no emulator (unit, service)"
	@echo "make test       set up and run every test (every tier)"
	@echo "make role-docs  write the role READMEs' variable tables from their meta/argument_specs.yml and defaults"
	@echo "make iam-policy  record the roles' AWS actions (deploy, re-deploy, teardown of both topologies) and write docs/iam-policy.json"
	@echo "make bench      run the benchmarks, figures into bench/RESULTS.md"
	@echo "make bench-service  the service benchmark only (gunicorn + wrk)"
	@echo "make bench-analysis  the decision analyses against their Python peers, and POST /analysis"
	@echo "make bench-hardening  fuzz/load/fault figures (the hardening tests) only"
	@echo "make bench-front  200 slow clients for 60 s: the front vs bare gunicorn; issue 26's attacks without a key"
	@echo "make bench-cost  each request shape's peak RSS against the service's estimate; six heavy requests on one key"
	@echo "make image      build the Docker image and print its tag"
	@echo "make bench-image  image size and docker run → healthy time"
	@echo "make bench-deploy  site.yml deploy / re-deploy / teardown against moto"
	@echo "make bench-demo  make demo from a fresh clone and with set-up done"
	@echo "make bench-deploy-in-place  demo.py deploy under load on the running demo (make demo first)"

setup: $(STAMP)

# The deployer's IAM policy and the role READMEs' "IAM permissions": the
# actions each role makes through the tests' AWS proxy (both topologies'
# full deploy, re-deploy and teardown; the certificate and KMS variants),
# recorded into docs/iam-actions.json, then turned into the policy.
iam-policy: setup
	rm -f docs/iam-actions.json
	LHTA_IAM_RECORD=$(CURDIR)/docs/iam-actions.json $(PY) -m pytest -p no:xdist -q \
	    tests/e2e/test_deploy.py tests/deploy/test_load_balanced.py \
	    "tests/deploy/test_roles_aws.py::test_a_kms_alias_is_resolved_to_the_key_arn_in_the_policy" \
	    "tests/deploy/test_roles_aws.py::test_a_fargate_cluster_creates_the_service_linked_role_first" \
	    -k "not iam_policy"
	$(PY) -m tests.support.iam_policy

# The role READMEs' "Variables" tables, from each role's argument_specs and
# defaults (tests/unit/test_role_docs.py fails when one is stale).
role-docs: setup
	$(PY) -m tests.support.role_docs

$(STAMP): pyproject.toml requirements/constraints.txt scripts/setup-venv.sh
	scripts/setup-venv.sh
	@touch $@

system:
	scripts/setup-system.sh

# The main job: the whole stack deployed locally (moto + a local registry +
# the stand-ins acting on it, standins/; the load_balanced topology: the
# service's tasks behind HAProxy standing in for the load balancer, on
# https://127.0.0.1:8443), called as the tutorial does.  On a running demo,
# `make demo` deploys again in place.  DEMO_TOPOLOGY=single make demo: one
# task, its TLS front on 8443.
demo: setup
	$(PY) scripts/demo.py up

demo-down: setup
	$(PY) scripts/demo.py down

# The living-HTA loop's step against the local demo (`make demo` first): over
# HTTPS, trusting only the demo's CA; the key from $LIVING_HTA_KEY, or the
# demo's $DEMO_API_KEY (environment only, never the command line).  A second
# run compares with the first (reports/demo/summary.json); exit 3 (decision
# changed) and 4 (changed) are outcomes, not failures, so they do not fail make.
REPORT_URL ?= https://127.0.0.1:8443
REPORT_CA ?= .cache/demo/ca.pem
REPORT_OUT ?= reports/demo
# The population value of information: people a year, years, yearly discount.
REPORT_POPULATION ?= --population 10000 --horizon 10 --discount 0.035
report: setup
	@LIVING_HTA_KEY="$${LIVING_HTA_KEY:-$${DEMO_API_KEY:-}}" $(PY) -m living_hta_client report \
	    --url $(REPORT_URL) --ca-file $(REPORT_CA) --updates reports/updates.json --seed 1 \
	    --evppi p_HS1 --evppi p_S1H,p_S1S2 $(REPORT_POPULATION) \
	    --out $(REPORT_OUT) --previous $(REPORT_OUT)/summary.json; \
	status=$$?; [ $$status -eq 0 ] || [ $$status -eq 3 ] || [ $$status -eq 4 ]

# The tests, in tiers by folder (tests/support/parallel.py): unit, service
# (no Docker, no emulator: `make check`), deploy (the roles against moto),
# e2e (Docker, the demo), each test listed by name as it ends.  pytest-xdist
# workers: two for `make check` (its tests keep both cores busy), four for
# `make test`, whose deploy and e2e tests also wait (health checks,
# draining, AWS's delays played by the proxy, Docker's pushes), leaving the
# cores idle part of the time: on two cores, 1408 s with two workers, 1248 s
# with three; since the tests' playbook runs take less CPU, 1069 s with
# three and 968 s with four (bench/RESULTS.md, "Test suite").
# TEST_WORKERS=N sets both; 0 runs every test in one process.
TEST_WORKERS ?=
check: setup system
	$(PY) -m pytest -n $(or $(TEST_WORKERS),2) -m "unit or service" -q

test: setup system base-image
	$(PY) -m pytest -n $(or $(TEST_WORKERS),4) -v --durations=40

bench: setup bench-service bench-hardening bench-front bench-cost bench-image bench-deploy bench-demo bench-analysis
	$(PY) bench/bench_model.py

bench-deploy: setup system
	$(PY) bench/bench_deploy.py

bench-demo: setup system
	$(PY) bench/bench_demo.py

bench-deploy-in-place: setup
	$(PY) bench/bench_deploy_in_place.py

# model.analysis against heormodel, voiage and pygam (a throwaway venv in
# /tmp, made on first use: not project dependencies) and POST /analysis.
bench-analysis: setup system
	$(PY) bench/bench_analysis.py

bench-service: setup system
	$(PY) bench/bench_service.py

bench-image: setup system
	$(PY) bench/bench_image.py

bench-hardening: setup
	$(PY) bench/bench_hardening.py

bench-front: setup system
	$(PY) bench/bench_front.py
	$(PY) bench/bench_front_attacks.py

bench-cost: setup
	$(PY) bench/bench_cost.py

# The API's image (scripts/image.sh): prints its tag.  base-image: only the
# base (python:3.11-slim if it can be pulled, else the cached Debian stand-in).
image: setup system
	@scripts/image.sh

base-image: system
	@scripts/image.sh --base >/dev/null

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
