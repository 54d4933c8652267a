#!/usr/bin/env bash
# make deploy: puts the worker on Cloudflare with the top-level policy of wrangler.toml
# (`--env=""`; [env.demo] is only for make dev). make runs `make check` first. Then:
#   1. if the EDGECACHE_KV namespace id in wrangler.toml is still the placeholder, finds the
#      namespace "<name>-EDGECACHE_KV" in the account or creates it, and writes its id there;
#   2. says whether there are Durable Object migrations ([[migrations]]): wrangler deploy
#      applies them, nothing else is needed;
#   3. if the worker has no ADMIN_TOKEN (or ADMIN_TOKENS) secret, generates one and uploads
#      it with the deploy (--secrets-file), printing it once, after the deploy succeeded;
#   4. wrangler deploy.
# DRY_RUN=1: `wrangler deploy --dry-run --outdir OUTDIR` only (no login, no network), then the
# bundle's size against Cloudflare's limits (scripts/bundle-size.mjs).
#
# Environment: CONFIG (default wrangler.toml), OUTDIR (default build/deploy-dry-run), DRY_RUN.
# `wrangler` is the one make puts first on PATH (node_modules/.bin). Runs with bash on Linux
# and macOS: no GNU-only flags (no sed -i; awk and sed as POSIX has them).
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=${CONFIG:-wrangler.toml}
OUTDIR=${OUTDIR:-build/deploy-dry-run}
DRY_RUN=${DRY_RUN:-}
BINDING=EDGECACHE_KV
PLACEHOLDER=00000000000000000000000000000000

say() { printf 'deploy: %s\n' "$*"; }
fail() {
  printf 'deploy: %s\n' "$*" >&2
  exit 1
}

[ -f "$CONFIG" ] || fail "no $CONFIG"

# The worker's name: the top-level `name`, before the first table.
worker_name() {
  awk '/^[[:space:]]*\[/ { exit } /^[[:space:]]*name[[:space:]]*=/ {
    v = $0; sub(/^[^=]*=[[:space:]]*"/, "", v); sub(/".*$/, "", v); print v; exit }' "$CONFIG"
}

# The `id` of the top-level [[kv_namespaces]] block whose binding is $BINDING (a TOML header is
# a full path, so [[env.demo.kv_namespaces]] is another table); nothing if there is none.
kv_id() {
  awk -v binding="$BINDING" '
    function flush() { if (inkv && bound) print id; inkv = 0 }
    /^[[:space:]]*\[/ {
      flush()
      inkv = ($0 ~ /^[[:space:]]*\[\[[[:space:]]*kv_namespaces[[:space:]]*\]\][[:space:]]*(#.*)?$/)
      bound = 0; id = ""; next
    }
    inkv && /^[[:space:]]*binding[[:space:]]*=/ {
      v = $0; sub(/^[^=]*=[[:space:]]*"/, "", v); sub(/".*$/, "", v); bound = (v == binding)
    }
    inkv && /^[[:space:]]*id[[:space:]]*=/ {
      v = $0; sub(/^[^=]*=[[:space:]]*"/, "", v); sub(/".*$/, "", v); id = v
    }
    END { flush() }' "$CONFIG"
}

# Writes `id` into that block in place of the placeholder, leaving every other line as it is
# (the block is held until its end, as its binding may follow its id).
write_kv_id() {
  local new=$1 tmp
  tmp=$(mktemp "${CONFIG}.XXXXXX")
  awk -v binding="$BINDING" -v placeholder="$PLACEHOLDER" -v new="$new" '
    function flush(   i, line) {
      for (i = 1; i <= n; i++) {
        line = held[i]
        if (inkv && bound && i == idline) sub(placeholder, new, line)
        print line
      }
      n = 0; inkv = 0
    }
    /^[[:space:]]*\[/ {
      flush()
      inkv = ($0 ~ /^[[:space:]]*\[\[[[:space:]]*kv_namespaces[[:space:]]*\]\][[:space:]]*(#.*)?$/)
      bound = 0; idline = 0
    }
    {
      held[++n] = $0
      if (inkv && $0 ~ /^[[:space:]]*binding[[:space:]]*=/) {
        v = $0; sub(/^[^=]*=[[:space:]]*"/, "", v); sub(/".*$/, "", v); bound = (v == binding)
      }
      if (inkv && $0 ~ /^[[:space:]]*id[[:space:]]*=[[:space:]]*"/ && index($0, placeholder)) idline = n
    }
    END { flush() }' "$CONFIG" > "$tmp"
  # Copied over rather than moved, so the file keeps its mode and any link to it.
  cat "$tmp" > "$CONFIG"
  rm -f "$tmp"
  [ "$(kv_id)" = "$new" ] || fail "could not write the namespace id into $CONFIG"
}

id=$(kv_id)
[ -n "$id" ] || fail "$CONFIG has no top-level [[kv_namespaces]] block with binding = \"$BINDING\""

if [ -n "$DRY_RUN" ]; then
  say "dry run: the bundle wrangler would upload, written to $OUTDIR; no login, nothing uploaded"
  if [ "$id" = "$PLACEHOLDER" ]; then
    say "dry run: the $BINDING id in $CONFIG is still the placeholder; a real deploy creates the namespace"
  fi
  rm -rf "$OUTDIR"
  wrangler deploy --dry-run --outdir "$OUTDIR" --env="" --config "$CONFIG"
  node scripts/bundle-size.mjs "$OUTDIR" "$(basename "$(sed -n 's/^main[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' "$CONFIG" | head -n1)")"
  exit 0
fi

say "deploying the top-level policy of $CONFIG; wrangler asks you to log in if you are not (or set CLOUDFLARE_API_TOKEN)"

# 1. The KV namespace.
if [ "$id" = "$PLACEHOLDER" ]; then
  name=$(worker_name)
  [ -n "$name" ] || fail "$CONFIG has no top-level name"
  title="$name-$BINDING"
  list=$(wrangler kv namespace list --config "$CONFIG") || fail "could not list the account's KV namespaces"
  id=$(printf '%s' "$list" | node -e '
    let text = "";
    process.stdin.on("data", (d) => (text += d)).on("end", () => {
      const namespaces = JSON.parse(text.slice(text.indexOf("[")));
      const found = namespaces.find((n) => n.title === process.argv[1]);
      if (found) console.log(found.id);
    });' "$title") || fail "could not read the list of KV namespaces"
  if [ -n "$id" ]; then
    say "KV namespace \"$title\" exists: $id"
  else
    created=$(wrangler kv namespace create "$title" --env="" --config "$CONFIG") || fail "could not create the KV namespace \"$title\""
    id=$(printf '%s\n' "$created" | sed -n 's/.*"\{0,1\}id"\{0,1\}[[:space:]]*[:=][[:space:]]*"\([0-9a-f]\{32\}\)".*/\1/p' | head -n1)
    [ -n "$id" ] || fail "wrangler created \"$title\" but printed no id: put it into $CONFIG by hand"
    say "KV namespace \"$title\" created: $id"
  fi
  write_kv_id "$id"
  say "wrote its id into the [[kv_namespaces]] block of $CONFIG (commit it)"
fi

# 2. Durable Object migrations.
if grep -q '^[[:space:]]*\[\[[[:space:]]*migrations[[:space:]]*\]\]' "$CONFIG"; then
  say "wrangler deploy applies the Durable Object migrations ([[migrations]]) in $CONFIG"
fi

# 3. The admin token.
token=
secrets_file=
cleanup() { [ -z "$secrets_file" ] || rm -f "$secrets_file"; }
trap cleanup EXIT
if secrets=$(wrangler secret list --env="" --config "$CONFIG" 2>&1); then
  if printf '%s' "$secrets" | grep -Eq '"name":[[:space:]]*"ADMIN_TOKENS?"'; then
    say "the worker has an admin token secret already"
  else
    token=new
  fi
else
  case $secrets in
    *Worker*"not found"*) token=new ;; # the first deploy: no worker, so no secrets yet
    *)
      printf '%s\n' "$secrets" >&2
      fail "could not list the worker's secrets"
      ;;
  esac
fi
deploy_args=(deploy --env="" --config "$CONFIG")
if [ "$token" = new ]; then
  token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  secrets_file=$(umask 077 && mktemp "${TMPDIR:-/tmp}/edgecache-secrets.XXXXXX")
  printf '{"ADMIN_TOKEN":"%s"}\n' "$token" > "$secrets_file"
  deploy_args+=(--secrets-file "$secrets_file")
fi

# 4. Deploy.
wrangler "${deploy_args[@]}" || fail "wrangler deploy failed"
if [ -n "$token" ]; then
  printf '\ndeploy: ADMIN_TOKEN was not set, so one was generated and set as a secret with this deploy.\n'
  printf 'deploy: it is shown this once and kept nowhere else; keep it (make purge reads it from ADMIN_TOKEN):\n\n    %s\n\n' "$token"
fi
