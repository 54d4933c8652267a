#!/usr/bin/env bash
# Builds a workers-rs crate into <out>/index.js + <out>/index_bg.wasm: cargo, then the pinned
# wasm-bindgen CLI, wasm-opt (npm binaryen) and esbuild (npm), with src/entry.mjs as the
# entry point. Used instead of worker-build, whose entry wrapper is slow on the hit path
# and which would download tools from outside the package registries.
#
#   scripts/build-worker.sh <crate dir> <out dir>
#
# Only what changed is rebuilt. cargo keeps its own dependency information; each later step
# runs only when the content of what it reads (its input files, the tool's version, this
# script, KEEP_NAMES) or of what it wrote last time differs from the record it left in
# <out>/.steps/<step>.done (SHA-256 digests, never timestamps). A build with nothing changed
# is cargo's no-op and a few hashes; wasm-opt alone takes tens of seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
crate=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
bin="$root/node_modules/.bin"
steps="$out/.steps"
mkdir -p "$steps"

# SHA-256 digests (sha256sum on Linux, shasum on macOS): "<hex>  <file>" lines, or of stdin.
if command -v sha256sum >/dev/null; then sha=(sha256sum); else sha=(shasum -a 256); fi
digest() { "${sha[@]}" | cut -d' ' -f1; }
# One digest of the named files, their names and contents (a missing one is left out, which
# changes it too). Names are taken relative to the output folder or the project, so that a
# copy of one elsewhere is still up to date.
files_digest() {
  { "${sha[@]}" -- "$@" 2>/dev/null || true; } | sed -e "s|  $out/|  |" -e "s|  $root/|  |" | digest
}
# up_to_date STEP KEY OUTPUT...: STEP last ran with inputs KEY and its outputs are as it left them.
up_to_date() {
  local step=$1 key=$2
  shift 2
  [ -f "$steps/$step.done" ] && [ "$(<"$steps/$step.done")" = "$key $(files_digest "$@")" ]
}
# record STEP KEY OUTPUT...: STEP has just run with inputs KEY and written OUTPUT...
record() {
  local step=$1 key=$2
  shift 2
  echo "$key $(files_digest "$@")" > "$steps/$step.done"
}
script_digest=$(files_digest "$root/scripts/build-worker.sh")

# The cdylib's file name and the target directory, from one `cargo metadata`.
read -r name target_dir < <(cargo metadata --manifest-path "$crate/Cargo.toml" --no-deps --format-version 1 |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);const lib=m.packages[0].targets.find(t=>t.kind.includes("cdylib"));console.log(lib.name.replace(/-/g,"_"),m.target_directory)})')

(cd "$crate" && cargo build --release --target wasm32-unknown-unknown --lib)
cargo_wasm="$target_dir/wasm32-unknown-unknown/release/$name.wasm"

# wasm-bindgen: the JS glue and the Wasm it goes with, into <out>/.steps/bindgen/.
# The reset-state function and abort handler let the entry point replace a crashed instance.
bindgen="$steps/bindgen"
key="$(files_digest "$cargo_wasm") $(wasm-bindgen --version) $script_digest"
if up_to_date bindgen "$key" "$bindgen/index.js" "$bindgen/index_bg.wasm"; then
  echo "wasm-bindgen: up to date"
else
  rm -rf "$bindgen"
  wasm-bindgen --target module --out-dir "$bindgen" --out-name index \
    --experimental-reset-state-function --force-enable-abort-handler "$cargo_wasm"
  record bindgen "$key" "$bindgen/index.js" "$bindgen/index_bg.wasm"
fi

# wasm-opt. The features rustc's wasm32 target and wasm-bindgen's catch wrappers use, named
# rather than --all-features so that no encoding newer than workerd's is ever emitted.
# KEEP_NAMES=1 keeps the names section, so a CPU profile (bench/profile.mjs) names functions.
features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)
key="$(files_digest "$bindgen/index_bg.wasm" "$root/node_modules/binaryen/package.json") keep-names=${KEEP_NAMES:-} $script_digest"
if up_to_date wasm-opt "$key" "$out/index_bg.wasm" "$steps/wasm-size"; then
  echo "wasm-opt: up to date"
else
  "$bin/wasm-opt" -Oz ${KEEP_NAMES:+-g} "${features[@]/#/--enable-}" \
    "$bindgen/index_bg.wasm" -o "$out/index_bg.wasm"
  printf 'Wasm: %s bytes raw, %s bytes gzipped\n' "$(($(wc -c < "$out/index_bg.wasm")))" \
    "$(($(gzip -9 -c "$out/index_bg.wasm" | wc -c)))" > "$steps/wasm-size"
  record wasm-opt "$key" "$out/index_bg.wasm" "$steps/wasm-size"
fi

# esbuild: the entry point bundled with the glue (which holds the Durable Object classes). Its inputs are
# every file esbuild can reach: the entry point's folder holds nothing else.
bundle="$steps/bundle"
rm -rf "$bundle"
mkdir -p "$bundle"
cp "$root/src/entry.mjs" "$bindgen/index.js" "$bundle/"
if [ -d "$bindgen/snippets" ]; then cp -R "$bindgen/snippets" "$bundle/"; fi
inputs=()
while IFS= read -r file; do inputs+=("$file"); done < <(cd "$bundle" && find . -type f | LC_ALL=C sort)
key="$(cd "$bundle" && files_digest "${inputs[@]}" "$root/node_modules/esbuild/package.json") $script_digest"
if up_to_date esbuild "$key" "$out/index.js"; then
  echo "esbuild: up to date"
else
  # wasm-bindgen's glue lists a snippet imported from several Rust modules once per import, under
  # one key (the same module each time): esbuild's duplicate-key warning on it says nothing.
  "$bin/esbuild" "$bundle/entry.mjs" --bundle --format=esm --minify --log-level=warning \
    --log-override:duplicate-object-key=silent \
    --external:./index_bg.wasm --external:'cloudflare:*' --outfile="$bundle/bundle.js"
  # workerd takes the Wasm module as a plain import (plain `sed`, no `-i`: BSD and GNU alike).
  sed 's/import source /import /' "$bundle/bundle.js" > "$out/index.js"
  record esbuild "$key" "$out/index.js"
fi
cat "$steps/wasm-size"
