# The living-hta API: the NumPy model behind gunicorn, as a non-root user.
#
#   make image                     # wheels + base image + this build; prints the tag
#   docker run --rm -p 127.0.0.1:8000:8000 -e API_KEYS=<key> living-hta:latest
#
# The build context holds only build/wheels/*.whl (.dockerignore), made on the
# host by scripts/build-wheels.sh: the build installs from them with
# --no-index and needs no network.  BASE_IMAGE is any Debian-based image with
# Python 3.11 and its venv module: the official python:3.11-slim, or, where no
# image can be pulled, the stand-in from scripts/base-image.sh.
# No key, token or password is ever passed to this build: keys arrive at run
# time (API_KEYS, or API_KEY_FILE naming a mounted file).
ARG BASE_IMAGE=python:3.11-slim

# --- build: a virtual environment in /opt/venv, from wheels only ------------
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
COPY build/wheels/ /tmp/wheels/
# Then take out what the server never runs:
# - pandas and what only it needs (python-dateutil, six), a large part of the
#   environment (image size: bench/RESULTS.md, "Image"): the model's
#   DataFrame API (model.run, model.evaluate) uses it, the service does not
#   (it runs model.run_psa on NumPy arrays; tests/unit/test_without_pandas.py);
# - the libraries' own test suites, type stubs, the Swagger UI's source maps,
#   pip and setuptools;
# - all of plotly but plotly.min.js, gzipped (1.5 MB: what browsers get;
#   service/resources/page.py), and the __init__.py by which the page finds
#   it; and narwhals, which only plotly's Python side uses: the analyst's
#   page needs the script, not the 40 MB package;
# - standins/, the demo's local ECS and load balancer (installed with the
#   project for `make demo`; never run on AWS);
# and compile the byte code once, checked by hash rather than by file times,
# so workers start without compiling and a read-only root file system costs
# nothing.  The last line proves the service imports and runs without pandas,
# and that the page's plotly.min.js is there.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install --no-index --find-links /tmp/wheels --no-compile living-hta \
 && /opt/venv/bin/python -m pip uninstall --yes --quiet pandas python-dateutil six narwhals pip setuptools \
 && site=$(/opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') \
 && find "$site"/plotly -type f ! -path "$site/plotly/__init__.py" \
    ! -path "$site/plotly/package_data/plotly.min.js" -delete \
 && find "$site"/plotly -depth -type d -empty -delete \
 && gzip -9 -n "$site"/plotly/package_data/plotly.min.js \
 && rm -rf /opt/venv/share/jupyter /opt/venv/bin/plotly_get_chrome "$site"/standins \
 && rm -rf "$site"/numpy/*/tests "$site"/numpy/tests "$site"/numpy/_pyinstaller \
    "$site"/numpy/f2py "$site"/numpy/distutils \
 && find "$site" -name '*.pyi' -delete \
 && find "$site"/swagger_ui_bundle -name '*.map' -delete \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv/lib \
 && /opt/venv/bin/python -c 'import falcon, gunicorn, model, service.app; \
assert model.run_psa(seed=1).values.shape == (1000, 6); \
from service.resources.page import plotly_js; assert len(plotly_js()) > 10**6'
# Marks this stage's images, so scripts/image.sh can prune superseded ones.
LABEL io.living-hta.stage=build

# --- runtime ------------------------------------------------------------------
FROM ${BASE_IMAGE}
# A fixed, numeric non-root user (orchestrators can check runAsNonRoot) that
# owns nothing in the image: the code and the data are read-only to it.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# One BLAS/OpenMP thread per worker, and malloc keeping the heap it reuses on
# every request (service/settings.py, PROCESS_ENV): set here, where the
# process starts, because NumPy and malloc read them when they start.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    OPENBLAS_NUM_THREADS=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    MALLOC_TRIM_THRESHOLD_=67108864 \
    MALLOC_MMAP_THRESHOLD_=33554432
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
# The probe is bash's /dev/tcp (bash is in every Debian image; there is no
# curl): one HTTP/1.0 GET of /health, healthy if the answer is 200.  bash,
# not Python: a Python start costs several times the probe's CPU.  It says who
# it is (User-Agent living-hta-healthcheck), so its request-log lines are
# easy to filter.  Every 10 s, not 1 s: each probe is also a `docker exec`
# (the daemon's CPU) and a log line.  With the default interval Docker says
# healthy at the first probe, well after the service answers; `docker run
# --health-interval=1s` shows how soon it could (figures for all of this:
# bench/RESULTS.md, "Image").  (Docker 25+ can probe faster
# during the start period only, `--start-interval`; Docker 20.10 cannot
# build a Dockerfile that uses it.)  On ECS the task definition's own
# healthCheck (roles/task) is what the service acts on.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\"${PORT:-8000}\" && printf 'GET /health HTTP/1.0\\r\\nUser-Agent: living-hta-healthcheck\\r\\n\\r\\n' >&3 && IFS= read -r status <&3 && [[ $status == HTTP/1.[01]\\ 200\\ * ]]"]
# Settings come from the environment (API_KEYS / API_KEY_FILE, DATA_DIR,
# WEB_CONCURRENCY, ...), checked by service/__main__.py before gunicorn starts
# (one "cannot start" line for a mistake); arguments after the image name are
# added to gunicorn's.
ENTRYPOINT ["python", "-m", "service", "--host", "0.0.0.0"]
# Last, so a new commit changes only this metadata, never a cached layer.
ARG VCS_REF=unknown
LABEL org.opencontainers.image.title="living-hta" \
      org.opencontainers.image.description="The DARTH Sick-Sicker PSA model as a private HTTP API (Falcon + gunicorn)" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${VCS_REF}"
