#!/usr/bin/env bash
# Serves the built worker with wrangler dev (workerd, real local KV and Cache API) in front
# of ORIGIN, or of the demo origin when ORIGIN is empty. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8787}
DEMO_PORT=${DEMO_PORT:-8790}
ORIGIN=${ORIGIN:-}
DJANGO=${DJANGO:-}
DJANGO_PORT=${DJANGO_PORT:-8000}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

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
pids+=($!)

# Ready once the worker answers its own dashboard: a path under the admin prefix never goes
# through the cache to the origin (`/` would be fetched from it, and stored, before anyone
# asked). The prefix is `admin_path` in wrangler.toml, if set there.
admin_path=$(sed -n 's/^[[:space:]]*admin_path[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' wrangler.toml | head -n1)
admin_path=${admin_path:-/_edgecache}
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do
  curl -s -o /dev/null "$base$admin_path/" && break
  sleep 0.5
done
echo
echo "edgecache is serving $base in front of $ORIGIN"
echo "Dashboard: $base$admin_path/   admin token (from .dev.vars): $token"
if [ -n "$DJANGO" ]; then
  echo "The example blog (examples/django-blog) is behind it: $base/ (admin: $base/admin/, admin / admin)."
  echo "Edit a post in the admin and reload its page: Cache-Status goes from hit to fwd=miss with the new text."
fi
if ! $demo; then
  echo "Try: curl -si $base/   (twice: Cache-Status goes from fwd=miss to hit). Ctrl-C stops it."
  wait
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
wait
