#!/usr/bin/env bash
# The nightly conformance run, the same commands in GitHub Actions (conformance.yml) and locally
# (run_locally.py): discover every endpoint, judge them with the conformance suite, publish the
# Markdown as the job summary, compare with the previous run's JSON report. Exit 1 on a regression
# (a case now failing or undecided, a newly failing or vanished target); without a previous report,
# the suite's own exit status.
#   DISCOVER_ARGS    arguments of `apigw-tls discover` (regions, --endpoint-url, --connect, ...)
#   PREVIOUS_REPORT  the previous run's report.json, if there is one
#   OUT_DIR          where targets.toml, report.json, report.md and diff.txt go (default conformance-report)
set -uo pipefail
out="${OUT_DIR:-conformance-report}"
mkdir -p "$out"
# shellcheck disable=SC2086  # DISCOVER_ARGS is a list of arguments
apigw-tls discover ${DISCOVER_ARGS:-} --output "$out/targets.toml" || exit 2
python -m pytest --pyargs pytest_apigw_tls.conformance -q -p no:cacheprovider --tb=no \
    --apigw-targets "$out/targets.toml" --apigw-json "$out/report.json" --apigw-markdown "$out/report.md"
suite=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/report.md" ]; then
    cat "$out/report.md" >> "$GITHUB_STEP_SUMMARY"
fi
if [ -n "${PREVIOUS_REPORT:-}" ] && [ -f "$PREVIOUS_REPORT" ]; then
    apigw-tls diff "$PREVIOUS_REPORT" "$out/report.json" > "$out/diff.txt"
    compared=$?
    cat "$out/diff.txt"
    exit "$compared"
fi
exit "$suite"
