#!/usr/bin/env bash
# Checks include/bitgguf.h:
#   1. it is what cbindgen (pinned: 0.29.4) generates from the Rust sources today;
#   2. every identifier it declares (macro, struct/enum tag, typedef, enum constant, function,
#      global) starts with bg_ or BG_, except the include guard BITGGUF_H.
# Usage: scripts/check_header.sh [HEADER]   (default include/bitgguf.h; step 1 only for it)
# Exit status 0 when both hold; 1 with a message saying what to do otherwise.
set -euo pipefail

CBINDGEN_VERSION=0.29.4
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
header="${1:-$root/include/bitgguf.h}"
status=0

# ---- 1. freshness ----------------------------------------------------------------------------
if [[ $# -eq 0 ]]; then
  cbindgen="$(command -v cbindgen || true)"
  [[ -z "$cbindgen" && -x "$HOME/.cargo/bin/cbindgen" ]] && cbindgen="$HOME/.cargo/bin/cbindgen"
  if [[ -z "$cbindgen" ]]; then
    echo "check_header: cbindgen not found; install it with" >&2
    echo "  cargo install cbindgen --locked --version $CBINDGEN_VERSION" >&2
    exit 1
  fi
  found="$("$cbindgen" --version | awk '{print $2}')"
  if [[ "$found" != "$CBINDGEN_VERSION" ]]; then
    # Point releases change the output cosmetically: compare only with the pinned version.
    echo "check_header: cbindgen $CBINDGEN_VERSION is required, found $found; run" >&2
    echo "  cargo install cbindgen --locked --force --version $CBINDGEN_VERSION" >&2
    exit 1
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$root" && "$cbindgen" --quiet --config cbindgen.toml --crate bitgguf \
          --output "$tmp/bitgguf.h" . 2>"$tmp/err"); then
    echo "check_header: cbindgen failed:" >&2
    cat "$tmp/err" >&2
    exit 1
  fi
  if ! diff -u "$header" "$tmp/bitgguf.h" >"$tmp/diff"; then
    echo "check_header: include/bitgguf.h is STALE: it differs from what cbindgen generates" >&2
    echo "from the Rust sources (- committed, + generated):" >&2
    head -n 80 "$tmp/diff" >&2
    n="$(wc -l <"$tmp/diff")"
    [[ "$n" -gt 80 ]] && echo "... ($n diff lines in all)" >&2
    echo "Regenerate it with:" >&2
    echo "  cbindgen --config cbindgen.toml --crate bitgguf --output include/bitgguf.h ." >&2
    status=1
  else
    echo "check_header: include/bitgguf.h is up to date (cbindgen $found)"
  fi
fi

# ---- 2. prefixes -----------------------------------------------------------------------------
python3 - "$header" <<'PY' || status=1
import re
import sys

path = sys.argv[1]
src = open(path, encoding="utf-8").read()

# Strip comments and string/char literals (keeping line structure).
def strip(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j)); i = j
        elif text.startswith("//", i):
            j = text.find("\n", i); i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(' "" '); i = j + 1
        else:
            out.append(c); i += 1
    return "".join(out)

code = strip(src)
bad = []

# Macros (joined continuation lines).
lines = code.replace("\\\n", " ").split("\n")
for ln in lines:
    m = re.match(r"\s*#\s*define\s+([A-Za-z_]\w*)", ln)
    if m and m.group(1) != "BITGGUF_H" and not m.group(1).startswith("BG_"):
        bad.append(("macro", m.group(1)))
# Everything else: declarations outside the preprocessor.
decl = " ".join(ln for ln in lines if not re.match(r"\s*#", ln))
toks = re.findall(r'""|[A-Za-z_]\w*|\d\w*|\S', decl)

IDENT = re.compile(r"[A-Za-z_]\w*$")

def declared_name(flat):
    """The name a depth-0 declaration (braces removed) declares, and its kind."""
    idents = [x for x in flat if IDENT.match(x)]
    fp = re.search(r"\( \* ([A-Za-z_]\w*) \)", " ".join(flat))  # (*name): function pointer
    if flat and flat[0] == "typedef":
        if fp:
            return "typedef", fp.group(1)
        if "[" in flat:  # typedef T name[N];
            idents = [x for x in flat[: flat.index("[")] if IDENT.match(x)]
        return "typedef", idents[-1] if idents else None
    if "(" in flat:
        k = flat.index("(")
        if k > 0 and IDENT.match(flat[k - 1]):
            return "function", flat[k - 1]
        return "function", fp.group(1) if fp else None
    if flat[:1] and flat[0] in ("struct", "enum", "union") and (len(idents) == 2 or flat[2:3] == [":"]):
        return None, None  # a tag declaration or definition (checked with the tags)
    if "[" in flat:
        idents = [x for x in flat[: flat.index("[")] if IDENT.match(x)]
    return "global", idents[-1] if idents else None

stack = []       # one entry per open brace: "extern" (extern "C" {), "enum" or "other"
stmt = []        # tokens of the current file-scope statement
expect_item = False
i = 0
while i < len(toks):
    t = toks[i]
    if t == "extern" and toks[i + 1 : i + 3] == ['""', "{"]:
        stack.append("extern"); i += 3; continue
    if t in ("struct", "enum", "union") and i + 1 < len(toks) and IDENT.match(toks[i + 1]):
        if not toks[i + 1].startswith("bg_"):
            bad.append((t + " tag", toks[i + 1]))
    if t == "{":
        kws = [x for x in stmt if x in ("struct", "enum", "union")]
        kind = "enum" if kws and kws[-1] == "enum" else "other"
        stack.append(kind); expect_item = kind == "enum"
        stmt.append(t); i += 1; continue
    if t == "}":
        if stack and stack.pop() == "extern":
            i += 1; continue
        stmt.append(t); i += 1; continue
    if stack and stack[-1] == "enum":
        if expect_item and IDENT.match(t):
            if not t.startswith("BG_"):
                bad.append(("enum constant", t))
            expect_item = False
        elif t == ",":
            expect_item = True
    if t == ";" and all(k == "extern" for k in stack):
        flat, d = [], 0
        for x in stmt:
            if x == "{": d += 1
            elif x == "}": d -= 1
            elif d == 0: flat.append(x)
        kind, name = declared_name(flat)
        if name is not None and not name.startswith("bg_"):
            bad.append((kind, name))
        stmt = []; i += 1; continue
    stmt.append(t); i += 1

if bad:
    print(f"check_header: {path} declares identifiers without the bg_/BG_ prefix:", file=sys.stderr)
    for kind, name in bad:
        print(f"  {kind}: {name}", file=sys.stderr)
    print("Rename them in the Rust sources (or exclude them in cbindgen.toml [export] exclude).",
          file=sys.stderr)
    sys.exit(1)
print(f"check_header: every identifier in {path.rsplit('/', 1)[-1]} starts with bg_/BG_ (or is BITGGUF_H)")
PY

exit "$status"
