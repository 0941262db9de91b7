# Sourced by scripts/demo and scripts/test: make .venv and install Agora into it, saying what
# it does (the first run takes a minute or so), and skip the install when pyproject.toml and
# the extras asked for are unchanged since the last one.
agora_setup() {
  local extras="$1" stamp=".venv/.agora-installed" want
  want="$(cksum < pyproject.toml) ${extras}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "agora: .venv is up to date" >&2
    return
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "agora: creating .venv…" >&2
    python3 -m venv .venv
  fi
  echo "agora: upgrading pip…" >&2
  .venv/bin/pip install --quiet --upgrade pip
  echo "agora: installing Agora${extras:+ with [$extras]} and its dependencies (about a minute the first time)…" >&2
  # one line per package fetched, then the summary; pip's errors go to stderr unfiltered
  if ! .venv/bin/pip install --progress-bar off -e ".${extras:+[$extras]}" \
    | awk '/^(Collecting|Successfully installed)/ { print "  " $0; fflush() }' >&2; then
    echo "agora: the install failed (see pip's messages above)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
  echo "agora: ready" >&2
}
