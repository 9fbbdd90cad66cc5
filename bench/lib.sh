# Shared by bench/run.sh and bench/scale.sh (sourced): a private `todo db
# local` cluster under $WORK, stopped and removed on exit. Needs $T (the
# todo binary) and $WORK; sets $BASE, the cluster's URL, and url DB.
local_cluster() {
    export TODO_HOME=$WORK/home
    unset DATABASE_URL TODO_DATABASE_URL TODO_LOCAL TODO_USER
    trap '"$T" db local stop -q || true; rm -rf "$WORK"' EXIT
    "$T" db local start -q
    BASE=$("$T" db local url)
}

# The cluster's URL for database $1.
url() { echo "${BASE/\/todo?//$1?}"; }
