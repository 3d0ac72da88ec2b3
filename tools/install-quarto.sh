#!/usr/bin/env bash
# Quarto for the report, where this machine can have it without downloading Quarto itself.
#
#   tools/install-quarto.sh [VENV]        (VENV defaults to .venv; make run and make test call it)
#
# - A quarto already on PATH, or already installed in VENV: nothing to do.
# - ../shared/tools/quarto/install-quarto.sh present (an offline build of Quarto 1.7.34 whose
#   installer takes its tools from the npm registry and PyPI only): install it into VENV/quarto and
#   link VENV/bin/quarto, where policyml looks for Quarto beside its own Python.
# - Otherwise: say how to get Quarto. The report then renders with the fallback engine
#   (Jupyter + pandoc); the tests that need a real Quarto skip with their reason.
# Never fails its caller: a failed install is reported with its log, and the fallback stays.
# Set POLICYML_SKIP_QUARTO=1 to never install.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${1:-.venv}
case "$venv" in /*) ;; *) venv=$root/$venv ;; esac
installer=$root/../shared/tools/quarto/install-quarto.sh
say() { printf 'install-quarto: %s\n' "$*" >&2; }

if found=$(command -v quarto 2>/dev/null); then
    say "quarto $("$found" --version 2>/dev/null) on PATH ($found): nothing to install"
    exit 0
fi
if [[ -x "$venv/bin/quarto" ]] && version=$("$venv/bin/quarto" --version 2>/dev/null); then
    say "quarto $version in $venv/bin: nothing to install"
    exit 0
fi
if [[ -n "${POLICYML_SKIP_QUARTO:-}" ]]; then
    say "POLICYML_SKIP_QUARTO set: not installing Quarto; reports render with Jupyter + pandoc"
    exit 0
fi
if [[ ! -f "$installer" ]]; then
    say "no quarto on PATH and no offline Quarto build at ${installer#"$root/"}: reports render with the"
    say "fallback engine (Jupyter + pandoc). To use Quarto: pip install -e '.[quarto]' (needs internet),"
    say "conda install -c conda-forge quarto, or Quarto's installer from quarto.org."
    exit 0
fi
mkdir -p "$root/logs" "$venv/bin"
log=$root/logs/install-quarto.log
say "installing Quarto from ${installer#"$root/"} into ${venv#"$root/"}/quarto (log: ${log#"$root/"})"
if bash "$installer" "$venv/quarto" >"$log" 2>&1 && "$venv/quarto/bin/quarto" --version >/dev/null 2>&1; then
    ln -sfn ../quarto/bin/quarto "$venv/bin/quarto"
    say "quarto $("$venv/bin/quarto" --version) installed: $venv/bin/quarto"
else
    say "the Quarto install failed (see ${log#"$root/"}): reports render with Jupyter + pandoc"
fi
exit 0
