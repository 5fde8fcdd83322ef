#!/usr/bin/env bash
# Refreshes crates/web/assets/vendor/ from the npm packages pinned in package-lock.json.
#
# The build never runs this: the vendored files are committed, so `cargo build` needs no Node.
# Run it (it needs npm, tar, sha256sum and openssl) after changing a version in package.json and
# running `npm install --package-lock-only` here:
#
#   crates/web/assets/refresh-vendor.sh           # rewrite vendor/ and vendor/SHA256SUMS
#   crates/web/assets/refresh-vendor.sh --check   # download again and compare, change nothing
#
# Each package's tarball is checked against the lock file's `integrity` (sha512) before anything
# is taken from it; vendor/SHA256SUMS records that integrity and the SHA-256 of every vendored
# file, and a test (`refettorio_web::assets`, `vendored_files_match_the_pinned_packages`) checks
# the files, the sums and the lock file agree.
set -euo pipefail
cd "$(dirname "$0")"

check=false
[ "${1:-}" = "--check" ] && check=true

# Files taken from each package, relative to the package root.
bootstrap_italia_files() {
  echo LICENSE
  echo dist/css/bootstrap-italia.min.css
  echo dist/svg/sprites.svg
  # Every browser we serve reads woff2; the other formats are never requested.
  (cd "$1" && find dist/fonts -type f \( -name '*.woff2' -o -name '*.txt' \) | LC_ALL=C sort)
}
htmx_files() {
  echo LICENSE
  echo dist/htmx.min.js
}

# `"node_modules/NAME": { "version": …, "integrity": … }` from the lock file.
locked() { # name field
  awk -v key="\"node_modules/$1\": {" -v field="\"$2\":" '
    index($0, key) { inside = 1; next }
    inside && index($0, field) { sub(/.*": *"/, ""); sub(/".*/, ""); print; exit }
    inside && /^    }/ { exit }
  ' package-lock.json
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/vendor"
mkdir -p "$out"
sums="$work/SHA256SUMS"
echo "# Vendored from the npm packages pinned in package-lock.json by refresh-vendor.sh." >"$sums"

for name in bootstrap-italia htmx.org; do
  version=$(locked "$name" version)
  integrity=$(locked "$name" integrity)
  [ -n "$version" ] && [ -n "$integrity" ] || { echo "package-lock.json: no $name" >&2; exit 1; }
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  tarball="$work/$name-$version.tgz"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "$name@$version: tarball integrity $actual differs from the lock's $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/unpacked/$name"
  tar -xzf "$tarball" -C "$work/unpacked/$name"
  root="$work/unpacked/$name/package"
  echo "# package $name $version $integrity" >>"$sums"
  case "$name" in
    bootstrap-italia) list=$(bootstrap_italia_files "$root") ;;
    htmx.org) list=$(htmx_files "$root") ;;
  esac
  while IFS= read -r rel; do
    install -D -m 0644 "$root/$rel" "$out/$name/$rel"
  done <<<"$list"
done
(cd "$out" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum) >>"$sums"
cp "$sums" "$out/SHA256SUMS"

if $check; then
  if diff -r "$out" vendor; then
    echo "vendor/ matches the pinned packages"
  else
    echo "vendor/ differs from the pinned packages: run $0" >&2
    exit 1
  fi
else
  rm -rf vendor
  cp -r "$out" vendor
  echo "vendor/ refreshed: $(find vendor -type f | wc -l) files"
fi
