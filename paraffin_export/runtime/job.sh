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
#
# A job belongs to one run: the token its coordinator wrote to .paraffin/run/token
# when it started. It runs only verdicts that carry that token and journals it
# (so a crashed run's job can never pass for the next run's), lists itself in
# .paraffin/run/jobs/ (the next run waits for jobs still alive there), and a
# watchdog stops it, command included, once its coordinator is gone.

# PID: it and every process below it (the stage command's whole tree)
paraffin_tree() {
    ps -A -o pid= -o ppid= 2>/dev/null | awk -v root="$1" '
        { up[$1] = $2 }
        END {
            keep[root] = 1
            do {
                grew = 0
                for (p in up) if (!(p in keep) && (up[p] in keep)) { keep[p] = 1; grew = 1 }
            } while (grew)
            for (p in keep) print p
        }'
}

# PID COORDINATOR HOST: stop job PID, command and all, once its coordinator is
# gone: a new run took the project over (the token changed), the coordinator's
# process ended (same host), or its heartbeat stood still for
# $PARAFFIN_COORDINATOR_TIMEOUT seconds (other hosts). Polls once a second, off
# the job's path; exits with the job.
paraffin_watch() {
    trap '' TERM
    paraffin_host=$(uname -n)
    paraffin_limit=${PARAFFIN_COORDINATOR_TIMEOUT:-60}
    case $paraffin_limit in '' | *[!0-9]*) paraffin_limit=60 ;; esac
    paraffin_beat=
    paraffin_still=0
    while kill -0 "$1" 2>/dev/null && sleep 1; do
        # alive, and where (a new run waits for the jobs listed here)
        printf '%s %s %s\n' "$paraffin_token" "$1" "$paraffin_host" 2>/dev/null >"$paraffin_me"
        paraffin_now=
        read -r paraffin_now _ 2>/dev/null <.paraffin/run/token
        if [ "$paraffin_now" != "$paraffin_token" ]; then
            paraffin_gone="a new run took the project over"
        elif [ "$3" = "$paraffin_host" ] && ! kill -0 "$2" 2>/dev/null; then
            paraffin_gone="its process $2 ended"
        else
            paraffin_line=
            read -r paraffin_line 2>/dev/null <.paraffin/run/heartbeat.json
            if [ "$paraffin_line" != "$paraffin_beat" ]; then
                paraffin_beat=$paraffin_line
                paraffin_still=0
                continue
            fi
            paraffin_still=$((paraffin_still + 1))
            [ "$paraffin_still" -lt "$paraffin_limit" ] && continue
            paraffin_gone="no heartbeat for $paraffin_limit s"
        fi
        kill -0 "$1" 2>/dev/null || return 0
        printf 'ERROR: the paraffin coordinator of this run is gone (%s): job stopped\n' \
            "$paraffin_gone" >&2
        # shellcheck disable=SC2046 # pids are words
        kill -TERM $(paraffin_tree "$1") 2>/dev/null
        return 0
    done
}

paraffin_rule=$1
paraffin_verdict=.paraffin/run/verdict/$paraffin_rule.sh
paraffin_token=
paraffin_me=.paraffin/run/jobs/$paraffin_rule
if read -r paraffin_token paraffin_coordinator paraffin_chost 2>/dev/null <.paraffin/run/token; then
    printf '%s %s\n' "$paraffin_token" "$$" 2>/dev/null >"$paraffin_me"
    # shellcheck disable=SC2154 # set by the read above
    paraffin_watch "$$" "$paraffin_coordinator" "$paraffin_chost" </dev/null >/dev/null &
    paraffin_watcher=$!
    trap 'kill "$paraffin_watcher" 2>/dev/null; rm -f "$paraffin_me"' EXIT
fi
PARAFFIN_JOB_TOKEN=$paraffin_token
export PARAFFIN_JOB_TOKEN
paraffin_tries=0
while [ ! -f "$paraffin_verdict" ]; do
    paraffin_tries=$((paraffin_tries + 1))
    if [ "$paraffin_tries" -gt 50 ] || ! sleep 0.01 2>/dev/null; then
        # the watchdog watches this pid on: job.py keeps it
        trap - EXIT
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
