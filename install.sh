#!/usr/bin/env bash
# Build and install CodeForge: the binary, shell completions and the shipped themes.
# Idempotent: running it again replaces the binary and completions, never a theme file.
#   PREFIX=~/.local ./install.sh      (default PREFIX: $HOME/.local)
set -euo pipefail

die() { echo "install.sh: $*" >&2; exit 1; }

cd "$(dirname "$0")"
[ -f Cargo.toml ] || die "run me from the CodeForge source tree"
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust from rustup first"

PREFIX="${PREFIX:-$HOME/.local}"
BIN_DIR="$PREFIX/bin"
mkdir -p "$BIN_DIR" || die "cannot create $BIN_DIR"

echo "building codeforge (release)..."
cargo install --path . --locked --root "$PREFIX" --force || die "cargo install failed"
BIN="$BIN_DIR/codeforge"
[ -x "$BIN" ] || die "the build did not produce $BIN"

echo "installing shell completions..."
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
"$BIN" completions bash --dir "$DATA/bash-completion/completions" >/dev/null || die "bash completions failed"
# bash-completion looks the file up by the command's name.
mv -f "$DATA/bash-completion/completions/codeforge.bash" "$DATA/bash-completion/completions/codeforge" || die "cannot place the bash completion"
"$BIN" completions zsh --dir "$DATA/zsh/site-functions" >/dev/null || die "zsh completions failed"
"$BIN" completions fish --dir "${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions" >/dev/null || die "fish completions failed"

echo "installing themes..."
CONFIG_FILE="$("$BIN" config path)" || die "cannot resolve the config directory"
THEMES_DIR="$(dirname "$CONFIG_FILE")/themes"
mkdir -p "$THEMES_DIR" || die "cannot create $THEMES_DIR"
for theme in themes/*.toml; do
  # The binary carries the shipped themes; these copies are starting points to edit, so an
  # existing file (maybe edited) is never overwritten.
  target="$THEMES_DIR/$(basename "$theme")"
  if [ -e "$target" ]; then
    cmp -s "$theme" "$target" || echo "note: kept your $target (the shipped one differs)"
  else
    cp "$theme" "$target" || die "cannot copy $theme"
  fi
done

echo "installed $BIN ($("$BIN" --version))"
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) echo "note: add $BIN_DIR to your PATH" ;;
esac
