#!/usr/bin/env bash
# Builds a workers-rs crate into <out>/index.js + <out>/index_bg.wasm: cargo, then the pinned
# wasm-bindgen CLI, wasm-opt (npm binaryen) and esbuild (npm), with src/entry.mjs as the
# entry point. Used instead of worker-build, whose entry wrapper is slow on the hit path
# and which would download tools from outside the package registries.
#
#   scripts/build-worker.sh <crate dir> <out dir>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
crate=$(cd "$1" && pwd)
out=$2
bin="$root/node_modules/.bin"

# The cdylib's file name and the target directory, from one `cargo metadata`.
read -r name target_dir < <(cargo metadata --manifest-path "$crate/Cargo.toml" --no-deps --format-version 1 |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);const lib=m.packages[0].targets.find(t=>t.kind.includes("cdylib"));console.log(lib.name.replace(/-/g,"_"),m.target_directory)})')

(cd "$crate" && cargo build --release --target wasm32-unknown-unknown --lib)

staging="$out/.staging"
rm -rf "$staging"
mkdir -p "$staging"
# The reset-state function and abort handler let the entry point replace a crashed instance.
wasm-bindgen --target module --out-dir "$staging" --out-name index \
  --experimental-reset-state-function --force-enable-abort-handler \
  "$target_dir/wasm32-unknown-unknown/release/$name.wasm"
# The features rustc's wasm32 target and wasm-bindgen's catch wrappers use, named rather than
# --all-features so that no encoding newer than workerd's is ever emitted.
# KEEP_NAMES=1 keeps the names section, so a CPU profile (bench/profile.mjs) names functions.
features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)
"$bin/wasm-opt" -Oz ${KEEP_NAMES:+-g} "${features[@]/#/--enable-}" \
  "$staging/index_bg.wasm" -o "$out/index_bg.wasm"
cp "$root/src/entry.mjs" "$root/src/control_object.mjs" "$staging/"
"$bin/esbuild" "$staging/entry.mjs" --bundle --format=esm --minify --log-level=warning \
  --external:./index_bg.wasm --external:'cloudflare:*' --outfile="$staging/bundle.js"
# workerd takes the Wasm module as a plain import (plain `sed`, no `-i`: BSD and GNU alike).
sed 's/import source /import /' "$staging/bundle.js" > "$out/index.js"
rm -rf "$staging"
