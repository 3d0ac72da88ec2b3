#!/usr/bin/env bash
# System packages that some tests need and pip cannot provide: Debian's Chromium + ChromeDriver (the
# browser check of the report) and slurm-wlm + munge (the one-node SLURM cluster test).
# Installs only what is missing, only as root on a Debian/Ubuntu machine; otherwise it says so and
# those tests skip with their reason. Set POLICYML_SKIP_SYSTEM_PACKAGES=1 to never touch apt.
set -euo pipefail

declare -A needs=([chromium]=/usr/bin/chromium [chromium-driver]=/usr/bin/chromedriver
                  [slurm-wlm]=/usr/sbin/slurmctld [munge]=/usr/sbin/munged)
missing=()
for package in "${!needs[@]}"; do
    [[ -x "${needs[$package]}" ]] || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
if [[ -n "${POLICYML_SKIP_SYSTEM_PACKAGES:-}" ]]; then
    echo "system packages missing (${missing[*]}); POLICYML_SKIP_SYSTEM_PACKAGES set: their tests will skip" >&2
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "system packages missing (${missing[*]}) and this is not root on Debian: the browser and SLURM tests will skip" >&2
    exit 0
fi
echo "installing system packages for the browser and SLURM tests: ${missing[*]}" >&2
mkdir -p logs
log=logs/install-system-packages.log
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core; } >"$log" 2>&1; then
    echo "apt-get could not install ${missing[*]} (see $log): the browser and SLURM tests will skip" >&2
fi
