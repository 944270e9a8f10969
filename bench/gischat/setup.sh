#!/bin/sh
# `npm run setup:gischat`: a virtualenv with gischat 3.4.1 (the Python server qchat-server replaces) for the bench
# targets gischat / gischat-2w, in node_modules/.cache/gischat-venv. Created once; run again to re-create.
#
# gischat needs Python >= 3.12 (GISCHAT_PYTHON=/path/to/python3.12 to choose one). It comes from PyPI
# (gischat==3.4.1) when the registry has it, else from a gischat repository given as GISCHAT_SRC (a checkout or a
# git directory holding the tag 3.4.1): its dependencies then come from PyPI.
set -eu
VERSION=3.4.1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$ROOT/node_modules/.cache/gischat-venv"

ok_python() { "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }
PY=""
for c in ${GISCHAT_PYTHON:-} python3.13 python3.12 python3 \
  $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -r); do
  if command -v "$c" >/dev/null 2>&1 && ok_python "$c"; then PY=$c; break; fi
done
if [ -z "$PY" ]; then
  echo "setup:gischat: no python >= 3.12 with venv found (gischat $VERSION requires it); set GISCHAT_PYTHON" >&2
  exit 1
fi

rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PY" -m venv "$VENV"
PIP="$VENV/bin/pip --quiet --disable-pip-version-check"
if $PIP install "gischat==$VERSION" 2>/dev/null; then
  :
elif [ -n "${GISCHAT_SRC:-}" ]; then
  SRC="$ROOT/node_modules/.cache/gischat-src"
  rm -rf "$SRC" && mkdir -p "$SRC"
  if [ -d "$GISCHAT_SRC/.git" ] || [ -f "$GISCHAT_SRC/HEAD" ]; then
    GITDIR=$GISCHAT_SRC; [ -d "$GISCHAT_SRC/.git" ] && GITDIR="$GISCHAT_SRC/.git"
    git --git-dir="$GITDIR" archive "$VERSION" | tar -x -C "$SRC"
  else
    cp -r "$GISCHAT_SRC/." "$SRC/"
  fi
  grep -q "version = \"$VERSION\"" "$SRC/pyproject.toml" || echo "setup:gischat: warning: $GISCHAT_SRC is not gischat $VERSION" >&2
  $PIP install "$SRC"
  # log_config.yaml is not part of the package; the bench passes its own logging options.
else
  rm -rf "$VENV"
  echo "setup:gischat: gischat==$VERSION is not on this package index; pass a gischat repository: GISCHAT_SRC=/path/to/gischat npm run setup:gischat" >&2
  exit 1
fi
"$VENV/bin/python" -c 'import gischat.app' && echo "setup:gischat: gischat $VERSION ready in $VENV (python $("$VENV/bin/python" -V 2>&1))"
