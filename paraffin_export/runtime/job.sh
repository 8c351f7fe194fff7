# One Snakemake job of the `paraffin` runner (POSIX sh; no Python, no DVC),
# sourced by the sh Snakemake starts the job in (the Snakefile sets
# `shell.executable("sh")`), from the DVC root:
#
#     exec >LOG 2>&1; set -- RULE; . job.sh
#
# or, from Snakefiles exported before, `exec sh job.sh RULE PYTHON` (PYTHON is
# not used).
#
# DVC costs about a second of CPU before it does anything, more than many
# stages, so a job never starts it: the coordinator in the main Snakemake process
# (paraffin_export/runtime/coordinator.py) makes every DVC decision and write,
# and compiles each stage's verdict to sh (runtime/verdict_script.py). The job:
#  1. waits for .paraffin/run/verdict/RULE.sh, which the coordinator writes once
#     the stage's upstream work is recorded and DVC has looked at the stage;
#     every second it reads the coordinator's heartbeat and fails clearly when
#     the coordinator is gone (or was never started: `snakemake --no-hooks`);
#  2. sources the verdict: print what DVC said, or run each command in the
#     stage's wdir with $SHELL -c (no rc files) and DVC_ROOT/DVC_STAGE set,
#     exactly as `dvc repro` runs it, check the declared outputs, and journal
#     the stage as done for the coordinator to record in dvc.lock.
#     sh job.sh --watch TOKEN PID HOST   (from the DVC root; runlock.watch)
#
# is the run's one watchdog instead, started by the coordinator (PID, on HOST).
#
# A job belongs to one run: the token its coordinator wrote to .paraffin/run/token
# when it started. It runs only verdicts that carry that token and journals it
# (so a crashed run's job can never pass for the next run's), lists itself in
# .paraffin/run/jobs/ (the next run waits for jobs still alive there), and a
# watchdog stops it, command included, once its coordinator is gone: on the
# coordinator's host the run's one watchdog (`--watch`: a process of its own,
# that outlives Snakemake killed however), elsewhere the job's own (a subshell,
# which also keeps the listing fresh: a listing from another host that stands
# still for seconds lists no job).
#
# Thousands of tiny stages make the processes a job starts count (on 2 cores
# their CPU slows Snakemake's own scheduling): what a builtin can do is done by
# one (the host name, the journal entry, the listing emptied at exit, the
# coordinator's pid checked); what is left is this sh, `sleep 0.01` while the
# verdict is not there yet, and the stage's $SHELL -c (on another host than
# the coordinator's, also the watchdog's subshell and its `sleep 1`).

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

# TOKEN COORDINATOR CHOST: whether the coordinator of run TOKEN is gone (then
# why, in $paraffin_gone): a new run took the project over (the token
# changed), its process COORDINATOR ended (same host: CHOST is
# $paraffin_host), or its heartbeat stood still for
# $PARAFFIN_COORDINATOR_TIMEOUT seconds. Asked once a second ($paraffin_still
# counts the rounds without a new beat, $paraffin_beat is the last one seen).
paraffin_is_gone() {
    paraffin_now=
    read -r paraffin_now _ 2>/dev/null <.paraffin/run/token
    if [ "$paraffin_now" != "$1" ]; then
        paraffin_gone="a new run took the project over"
        return 0
    fi
    if [ "$3" = "$paraffin_host" ] && ! kill -0 "$2" 2>/dev/null; then
        paraffin_gone="its process $2 ended"
        return 0
    fi
    paraffin_coordinator_time=
    # shellcheck disable=SC1091 # written by the coordinator (verdict_script.heartbeat)
    . .paraffin/run/heartbeat 2>/dev/null
    if [ "$paraffin_coordinator_time" != "$paraffin_beat" ]; then
        paraffin_beat=$paraffin_coordinator_time
        paraffin_still=0
        return 1
    fi
    paraffin_still=$((paraffin_still + 1))
    [ "$paraffin_still" -ge "$paraffin_limit" ] || return 1
    paraffin_gone="no heartbeat for $paraffin_limit s"
}

paraffin_watch_init() {
    paraffin_limit=${PARAFFIN_COORDINATOR_TIMEOUT:-60}
    case $paraffin_limit in '' | *[!0-9]*) paraffin_limit=60 ;; esac
    paraffin_beat=
    paraffin_still=0
}

# PID: stop job PID and its command's tree, saying why on the job's stderr
# (its log). The message follows the kill, after what the dying command wrote
# last; stdout: the job's stderr, opened before the kill.
paraffin_stop_job() {
    # shellcheck disable=SC2046 # pids are words
    kill -TERM $(paraffin_tree "$1") 2>/dev/null
    printf 'ERROR: the paraffin coordinator of this run is gone (%s): job stopped\n' \
        "$paraffin_gone"
}

# TOKEN COORDINATOR HOST: the run's one watchdog (`job.sh --watch`), for every
# job on its coordinator's host. The coordinator starts it in a session of its
# own, so it outlives the Snakemake process however that ends. Once a second:
# the run ended normally (heartbeat "stopped"; the coordinator also ends it
# itself): exit; its coordinator is gone (`paraffin_is_gone`): stop the jobs
# of run TOKEN on HOST listed in .paraffin/run/jobs/, then exit. A job listed
# after that last look sees its coordinator gone itself (below).
paraffin_watch_run() {
    trap '' PIPE # a job's stderr whose reader is gone must not end the round
    paraffin_host=$3
    paraffin_watch_init
    while sleep 1; do
        paraffin_coordinator_state='' paraffin_coordinator_pid=''
        # shellcheck disable=SC1091 # written by the coordinator (verdict_script.heartbeat)
        . .paraffin/run/heartbeat 2>/dev/null
        if [ "$paraffin_coordinator_state" = stopped ] && [ "$paraffin_coordinator_pid" = "$2" ]; then
            return 0 # this run's end, not a later run's
        fi
        paraffin_is_gone "$1" "$2" "$3" || continue
        for paraffin_entry in .paraffin/run/jobs/*; do
            paraffin_job_token='' paraffin_job='' paraffin_job_host=''
            read -r paraffin_job_token paraffin_job paraffin_job_host 2>/dev/null <"$paraffin_entry"
            if [ "$paraffin_job_token" != "$1" ] || [ "$paraffin_job_host" != "$3" ] ||
                ! kill -0 "$paraffin_job" 2>/dev/null; then
                continue # another run's, another host's, or ended
            fi
            # a pid reused since its job died unlisted (SIGKILL) is not a job
            if [ -r "/proc/$paraffin_job/cmdline" ] && ! grep -q job.sh "/proc/$paraffin_job/cmdline"; then
                continue
            fi
            paraffin_stop_job "$paraffin_job" 2>/dev/null >>"/proc/$paraffin_job/fd/2" ||
                paraffin_stop_job "$paraffin_job" >/dev/null 2>&1
        done
        # a coordinator process alive but silent may still start jobs: stop
        # them too, until it beats again or is gone
        case $paraffin_gone in "no heartbeat"*) continue ;; esac
        return 0
    done
}

# PID COORDINATOR HOST: a job's own watchdog, for a job on another host than
# its coordinator (whose process it cannot see): stop job PID, command and
# all, once its coordinator is gone (`paraffin_is_gone`: a new token or a
# heartbeat standing still). Polls once a second, off the job's path; exits
# with the job. Rewrites the job's listing every second: the next run takes a
# listing from another host older than a few seconds for a job that ended.
paraffin_watch() {
    trap '' TERM
    paraffin_watch_init
    while kill -0 "$1" 2>/dev/null && sleep 1; do
        # alive, and where (a new run waits for the jobs listed here); not
        # after the job's exit emptied its entry. `1<>` rewrites it in place
        # (never truncated, so never empty while the job lives: empty is "no job")
        kill -0 "$1" 2>/dev/null || return 0
        printf '%s %s %s\n' "$paraffin_token" "$1" "$paraffin_host" 2>/dev/null 1<>"$paraffin_me"
        paraffin_is_gone "$paraffin_token" "$2" "$3" || continue
        kill -0 "$1" 2>/dev/null || return 0
        paraffin_stop_job "$1" >&2
        return 0
    done
}

if [ "$1" = --watch ]; then
    paraffin_watch_run "$2" "$3" "$4"
    exit 0
fi

paraffin_rule=$1
paraffin_run_dir=.paraffin/run
paraffin_verdict=$paraffin_run_dir/verdict/$paraffin_rule.sh

paraffin_token=
paraffin_me=$paraffin_run_dir/jobs/$paraffin_rule
if read -r paraffin_token paraffin_coordinator paraffin_chost 2>/dev/null <"$paraffin_run_dir/token"; then
    # the coordinator's socket.gethostname() (the kernel's node name), read
    # without starting `uname` where Linux shows it as a file; listed from the
    # start, so a next run on another host never takes this job for one of its own
    paraffin_host=
    read -r paraffin_host 2>/dev/null </proc/sys/kernel/hostname || paraffin_host=$(uname -n)
    printf '%s %s %s\n' "$paraffin_token" "$$" "$paraffin_host" 2>/dev/null >"$paraffin_me"
    # emptied, not removed: no `rm` to start, and an empty entry lists no job
    # (runlock); it stays for the rule's next job to write into. `true`, not
    # `:`: a failed redirection of a special builtin would change the exit code
    trap 'true 2>/dev/null >"$paraffin_me"' EXIT
    # shellcheck disable=SC2154 # set by the read above
    if [ "$paraffin_chost" = "$paraffin_host" ]; then
        # the run's watchdog (`--watch`) looks at the listings once the
        # coordinator is gone: a job listed after that look stops itself
        paraffin_now=
        read -r paraffin_now _ 2>/dev/null <"$paraffin_run_dir/token"
        paraffin_gone=
        if [ "$paraffin_now" != "$paraffin_token" ]; then
            paraffin_gone="a new run took the project over"
        elif ! kill -0 "$paraffin_coordinator" 2>/dev/null; then
            paraffin_gone="its process $paraffin_coordinator ended"
        fi
        if [ -n "$paraffin_gone" ]; then
            printf 'ERROR: the paraffin coordinator of this run is gone (%s): job stopped\n' \
                "$paraffin_gone" >&2
            exit 1
        fi
    else
        paraffin_watch "$$" "$paraffin_coordinator" "$paraffin_chost" </dev/null >/dev/null &
        paraffin_watcher=$!
        trap 'kill "$paraffin_watcher" 2>/dev/null; true 2>/dev/null >"$paraffin_me"' EXIT
    fi
fi

# MESSAGE: the job ends with an error
paraffin_error() {
    printf 'ERROR: %s\n' "$1" >&2
    exit 1
}

# The coordinator rewrites its heartbeat every second; a job gives up when it
# is older than PARAFFIN_COORDINATOR_TIMEOUT seconds (60).
paraffin_check_coordinator() {
    paraffin_now=
    read -r paraffin_now _ 2>/dev/null <"$paraffin_run_dir/token"
    if [ -n "$paraffin_token" ] && [ "$paraffin_now" != "$paraffin_token" ]; then
        paraffin_error "this job belongs to an earlier run of the project, whose coordinator is gone"
    fi
    if [ ! -f "$paraffin_run_dir/heartbeat" ]; then
        paraffin_error "no paraffin coordinator is running: start the Snakefile with plain \`snakemake\` (not --no-hooks), or export with \`--runner dvc\`"
    fi
    paraffin_coordinator_state='' paraffin_coordinator_time=0 paraffin_coordinator_error=''
    paraffin_coordinator_host='' paraffin_coordinator_pid=''
    # shellcheck disable=SC1091 # written by the coordinator (verdict_script.heartbeat)
    . "$paraffin_run_dir/heartbeat"
    if [ "$paraffin_coordinator_state" = failed ]; then
        paraffin_error "the paraffin coordinator failed: $paraffin_coordinator_error"
    fi
    paraffin_timeout=${PARAFFIN_COORDINATOR_TIMEOUT:-60}
    paraffin_age=$(($(date +%s) - paraffin_coordinator_time))
    if [ "$paraffin_coordinator_state" != running ] || [ "$paraffin_age" -gt "${paraffin_timeout%%.*}" ]; then
        paraffin_error "the paraffin coordinator ($paraffin_coordinator_host, pid $paraffin_coordinator_pid) stopped answering; finished stages are journalled and recorded by the next run"
    fi
}

# Snakemake starts a job once its upstream jobs ended, so the wait is the
# coordinator recording them (tens of ms): a 10 ms poll keeps the latency it
# adds to every dependency small. Without fractional sleep: one second.
paraffin_ticks=0
while [ ! -f "$paraffin_verdict" ]; do
    paraffin_ticks=$((paraffin_ticks + 1))
    if [ "$paraffin_ticks" -ge 100 ]; then
        paraffin_check_coordinator
        paraffin_ticks=0
    fi
    sleep 0.01 2>/dev/null || { sleep 1 && paraffin_ticks=100; }
done

# DVC's `_make_cmd`: the user's shell without rc files
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

# CODE MESSAGE: a failed command ends the job
paraffin_failed() {
    paraffin_error "$2, exited with $1"
}

# PATH REL: a declared output the command did not write
paraffin_check_out() {
    if [ ! -e "$1" ] && [ ! -h "$1" ]; then
        paraffin_error "output '$2' does not exist"
    fi
}

# JSON: the stage is done; the coordinator records it (and fingerprints it).
# Written straight into place, not renamed (no `mv` to start): a reader that
# meets it half written takes it as not there yet, or at replay as not done
# (a JSON object parses only whole: runtime/journal.py, read_entry).
paraffin_journal() {
    printf '%s\n' "$1" >"$paraffin_run_dir/journal/$paraffin_rule.json"
}

# shellcheck disable=SC1090 # written by the coordinator
. "$paraffin_verdict"
