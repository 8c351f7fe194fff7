# One Snakemake job of the `paraffin` runner, its fast path (POSIX sh):
#
#     sh job.sh RULE PYTHON        (from the DVC root)
#
# A Python job (paraffin_export/job.py) costs 30-50 ms of CPU before its stage's
# command starts, on every stage; this costs a few. The coordinator compiles each
# verdict into verdict/RULE.sh (paraffin_export/jobscript.py), which runs the
# commands exactly as job.py would, and this script only sources it. A verdict
# that is not there within half a second hands the job over to job.py, which
# waits on the coordinator's heartbeat and fails clearly when it is gone.

paraffin_rule=$1
paraffin_verdict=.paraffin/run/verdict/$paraffin_rule.sh
paraffin_tries=0
while [ ! -f "$paraffin_verdict" ]; do
    paraffin_tries=$((paraffin_tries + 1))
    if [ "$paraffin_tries" -gt 50 ] || ! sleep 0.01 2>/dev/null; then
        exec "$2" -m paraffin_export.runtime.job "$paraffin_rule"
    fi
done

# DVC's `_make_cmd`: the user's shell without rc files (job.shell_command)
paraffin_shell=${SHELL:-/bin/sh}
case ${paraffin_shell##*/} in
    [Zz][Ss][Hh]) paraffin_flags=--no-rcs ;;
    [Bb][Aa][Ss][Hh]) paraffin_flags='--noprofile --norc' ;;
    [Ff][Ii][Ss][Hh]) paraffin_flags=--no-config ;;
    *) paraffin_flags= ;;
esac

# WDIR CMD: one stage command, in the stage's wdir
paraffin_run() {
    # shellcheck disable=SC2086 # the flags are words
    (cd "$1" && exec "$paraffin_shell" $paraffin_flags -c "$2")
}

# CODE MESSAGE: a failed command ends the job, as in job.py
paraffin_failed() {
    printf 'ERROR: %s, exited with %s\n' "$2" "$1" >&2
    exit 1
}

# PATH REL: a declared output the command did not write
paraffin_check_out() {
    if [ ! -e "$1" ] && [ ! -h "$1" ]; then
        printf "ERROR: output '%s' does not exist\n" "$2" >&2
        exit 1
    fi
}

# JSON: the stage is done; the coordinator records it (and fingerprints it)
paraffin_journal() {
    paraffin_tmp=.paraffin/run/journal/.$paraffin_rule.$$.tmp
    printf '%s\n' "$1" >"$paraffin_tmp" &&
        mv -f "$paraffin_tmp" ".paraffin/run/journal/$paraffin_rule.json"
}

# shellcheck disable=SC1090 # written by the coordinator
. "$paraffin_verdict"
