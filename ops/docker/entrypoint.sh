#!/bin/sh
# Container entrypoint for the chainwatch API:
#   1. wait for PostgreSQL to accept connections, at most CHAINWATCH_DB_WAIT_SECONDS
#      (default 60; nothing to wait for with the embedded SQLite database);
#   2. apply pending migrations (`chainwatch migrate`);
#   3. exec `chainwatch serve "$@"`, so the server is PID 1's successor and gets signals.
# The database is found from the same variables chainwatch reads (DATABASE_URL, else
# DATABASE_HOST/DATABASE_PORT). Every failure is one line on stderr and a non-zero exit.
set -eu

log() {
    printf '%s chainwatch-entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

wait_seconds="${CHAINWATCH_DB_WAIT_SECONDS:-60}"
case "$wait_seconds" in
    '' | *[!0-9]*)
        log "CHAINWATCH_DB_WAIT_SECONDS must be a whole number of seconds, got '$wait_seconds'"
        exit 2
        ;;
esac

# Host and port only: pg_isready does not log in, so no password goes on a command line.
db_host=""
db_port="5432"
if [ -n "${DATABASE_URL:-}" ]; then
    case "$DATABASE_URL" in
        postgres://* | postgresql://*)
            authority="${DATABASE_URL#*://}"
            authority="${authority%%/*}"
            authority="${authority%%\?*}"
            authority="${authority##*@}"
            case "$authority" in
                \[*) # [IPv6]:port
                    db_host="${authority%%]*}"
                    db_host="${db_host#\[}"
                    rest="${authority#*]}"
                    [ -n "${rest#:}" ] && db_port="${rest#:}"
                    ;;
                *:*)
                    db_host="${authority%%:*}"
                    db_port="${authority#*:}"
                    ;;
                *) db_host="$authority" ;;
            esac
            [ -n "$db_host" ] || db_host="localhost"
            ;;
    esac
elif [ -n "${DATABASE_HOST:-}" ]; then
    db_host="$DATABASE_HOST"
    db_port="${DATABASE_PORT:-5432}"
fi

if [ -n "$db_host" ]; then
    if ! command -v pg_isready >/dev/null 2>&1; then
        log "pg_isready is not on PATH: install the PostgreSQL client tools"
        exit 1
    fi
    start=$(date +%s)
    deadline=$((start + wait_seconds))
    announced=""
    while :; do
        now=$(date +%s)
        remaining=$((deadline - now))
        # Each probe waits at most 2 s, and never past the deadline (-t 0 would mean forever).
        probe=2
        [ "$remaining" -lt "$probe" ] && probe="$remaining"
        [ "$probe" -lt 1 ] && probe=1
        status=0
        pg_isready -q -h "$db_host" -p "$db_port" -t "$probe" || status=$?
        case "$status" in
            0) break ;;
            3)
                log "cannot check PostgreSQL at $db_host:$db_port: invalid host or port"
                exit 2
                ;;
        esac
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "PostgreSQL at $db_host:$db_port did not accept connections within ${wait_seconds}s; giving up"
            exit 1
        fi
        if [ -z "$announced" ]; then
            log "waiting up to ${wait_seconds}s for PostgreSQL at $db_host:$db_port"
            announced=1
        fi
        sleep 1
    done
    log "PostgreSQL at $db_host:$db_port accepts connections after $(($(date +%s) - start))s"
fi

log "applying migrations"
if ! chainwatch migrate >/dev/null; then
    log "chainwatch migrate failed (see the line above); not starting the server"
    exit 1
fi

# Migrations are done: the server need not check them again.
CHAINWATCH_AUTO_MIGRATE=false
export CHAINWATCH_AUTO_MIGRATE
exec chainwatch serve "$@"
