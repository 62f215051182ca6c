# Sourced by scripts/backup-postgres and scripts/restore-postgres: turns
# Recorda's database URL into what pg_dump and pg_restore take.

# libpq_url URL: sets LIBPQ_URL to URL without a SQLAlchemy "+driver" and
# without its password, which goes to PGPASSWORD (exported) instead, so that
# it never shows in the process list. Returns 1 for a URL that is not
# postgresql:// or postgres://.
libpq_url() {
  local re='^postgres(ql)?(\+[A-Za-z0-9_]+)?://(([^:@/]*)(:([^@/]*))?@)?(.*)$'
  [[ "$1" =~ $re ]] || return 1
  local user="${BASH_REMATCH[4]}" password="${BASH_REMATCH[6]}" rest="${BASH_REMATCH[7]}"
  if [ -n "$password" ]; then
    # URLs percent-encode a password's special characters; libpq takes it plain.
    local escaped="${password//\\/\\\\}"
    PGPASSWORD="$(printf '%b' "${escaped//%/\\x}")"
    export PGPASSWORD
  fi
  if [ -n "${BASH_REMATCH[3]}" ]; then
    LIBPQ_URL="postgresql://${user}@${rest}"
  else
    LIBPQ_URL="postgresql://${rest}"
  fi
}

# shown_url URL: URL with its password masked, for messages.
shown_url() {
  local re='^([^:/]+://[^:@/]*):[^@/]*@(.*)$'
  if [[ "$1" =~ $re ]]; then
    printf '%s:***@%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
  else
    printf '%s\n' "$1"
  fi
}
