#!/usr/bin/env bash
# Serves the worker with wrangler dev (workerd, real local KV and Cache API) in front of
# ORIGIN, or of the demo origin when ORIGIN is empty. Ctrl-C stops everything it started.
#
# The worker is built once, by wrangler's `[build] command` (make build, which skips every
# step whose inputs did not change); wrangler runs it again when a file under its
# `watch_dir` changes. An edit of wrangler.toml reloads the policy in `[vars]`: wrangler
# re-reads the file and runs the build command, which finds nothing to do.
#
# While the worker answers, .wrangler/edgecache-dev.json says where (port, URL, admin path)
# and this script's PID, for make purge; it is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8787}
DEMO_PORT=${DEMO_PORT:-8790}
ORIGIN=${ORIGIN:-}
DJANGO=${DJANGO:-}
DJANGO_PORT=${DJANGO_PORT:-8000}
STATE=.wrangler/edgecache-dev.json
# make dev has just checked the toolchain and npm packages: the builds wrangler runs skip it.
export EDGECACHE_DEPS_CHECKED=1
# Node keeps what it compiled of wrangler's 10 MB of JavaScript, for a quicker start next time.
export NODE_COMPILE_CACHE=${NODE_COMPILE_CACHE:-$PWD/.wrangler/node-compile-cache}
pids=()
cleanup() {
  # The state file is removed only if it is still this run's (another make dev may own it).
  if grep -qs "\"pid\": $$," "$STATE"; then rm -f "$STATE"; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The admin token for the purge API and dashboard: made once, kept in the git-ignored .dev.vars.
if ! grep -qs '^ADMIN_TOKEN=' .dev.vars; then
  echo "ADMIN_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" >> .dev.vars
fi
token=$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars | head -n1)

demo=false
env_args=()
var_args=()
if [ -n "$DJANGO" ]; then
  # The example blog (examples/django-blog) on Django's development server, with the routes
  # its decorated views imply (manage.py edgecache_routes) as the worker's policy, and the
  # admin token given to django-edgecache so saves in its admin purge the edge.
  blog=examples/django-blog
  py=$PWD/.venv/bin/python
  export EDGECACHE_ADMIN_TOKEN=$token EDGECACHE_URL="http://127.0.0.1:$PORT"
  (cd "$blog" && "$py" manage.py migrate --noinput -v 0 && "$py" manage.py blog_demo)
  # bypass_cookies (Django's session cookie) and the routes, as one JSON object.
  policy=$(cd "$blog" && "$py" manage.py edgecache_routes --json --policy)
  var_args=(--var "EDGECACHE:{\"key_prefix\":\"django\",\"backends\":[\"memory\",\"cache\"],${policy#\{}")
  (cd "$blog" && exec "$py" manage.py runserver "127.0.0.1:$DJANGO_PORT" --noreload) &
  pids+=($!)
  ORIGIN="http://127.0.0.1:$DJANGO_PORT"
elif [ -z "$ORIGIN" ]; then
  demo=true
  env_args=(--env demo)
  node demo/origin.mjs --port "$DEMO_PORT" &
  pids+=($!)
  ORIGIN="http://127.0.0.1:$DEMO_PORT"
fi

# EDGECACHE_DEV=1 (set here only, never in wrangler.toml: make check refuses it there) lets a
# broken configuration's errors show on the error page for requests to 127.0.0.1.
node_modules/.bin/wrangler dev "${env_args[@]}" --ip 127.0.0.1 --port "$PORT" --var "ORIGIN:$ORIGIN" --var "EDGECACHE_DEV:1" "${var_args[@]}" \
  --show-interactive-dev-session=false &
wrangler=$!
pids+=($wrangler)

# Ready once the worker answers its own dashboard: a path under the admin prefix never goes
# through the cache to the origin (`/` would be fetched from it, and stored, before anyone
# asked). The prefix is `admin_path` in wrangler.toml, if set there. The first build of a
# fresh clone takes minutes: the wait lasts as long as wrangler runs.
admin_path=$(sed -n 's/^[[:space:]]*admin_path[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' wrangler.toml | head -n1)
admin_path=${admin_path:-/_edgecache}
base="http://127.0.0.1:$PORT"
until curl -s -o /dev/null "$base$admin_path/"; do
  if ! kill -0 "$wrangler" 2>/dev/null; then
    echo "make dev: wrangler dev stopped before the worker answered on $base (see above)" >&2
    exit 1
  fi
  sleep 0.2
done
mkdir -p .wrangler
printf '{"pid": %s, "port": %s, "url": "%s", "admin_path": "%s", "origin": "%s"}\n' \
  "$$" "$PORT" "$base" "$admin_path" "$ORIGIN" > "$STATE.tmp"
mv "$STATE.tmp" "$STATE"
echo
echo "edgecache is serving $base in front of $ORIGIN"
echo "Dashboard: $base$admin_path/   admin token (from .dev.vars): $token"
if [ -n "$DJANGO" ]; then
  echo "The example blog (examples/django-blog) is behind it: $base/ (admin: $base/admin/, admin / admin)."
  echo "Edit a post in the admin and reload its page: Cache-Status goes from hit to fwd=miss with the new text."
fi
if ! $demo; then
  echo "Try: curl -si $base/   (twice: Cache-Status goes from fwd=miss to hit). Ctrl-C stops it."
  wait "$wrangler"
  exit
fi
cat <<MSG
Try (run each twice and watch Cache-Status go from fwd=miss to hit):
  curl -si $base/                          # cached with the default policy
  curl -si $base/time                      # max-age=10: fresh, then refetched
  curl -si $base/static/app.css            # route rule: 1 day at the edge, browsers told 1 h
  curl -s -o /dev/null -D - $base/downloads/archive.bin   # 8 MiB kept in R2: detail=r2 on a hit
  curl -si $base/private                   # Cache-Control: private: never stored
  curl -si $base/cookie                    # Set-Cookie: never stored
  curl -si -H 'Accept-Language: fr' $base/vary   # Vary: one variant per language
  curl -si $base/api/now                   # route rule: bypass
  curl -si '$base/?utm_source=x'           # utm_* ignored in the key: same entry as /
  curl -si $base/esi                       # assembled from fragments: see Edgecache-Fragments
  curl -si -b name=Ada $base/esi           # a per-user fragment, cached for Ada alone
  curl -s -X POST -H "Authorization: Bearer $token" -d '{"urls":["$base/time"]}' $base$admin_path/purge
Ctrl-C stops the worker and the demo origin.
MSG
wait "$wrangler"
