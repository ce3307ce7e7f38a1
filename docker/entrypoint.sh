#!/bin/sh
# Start of the TracLearn container: make or upgrade the Trac environment
# from the environment variables below (docker/bootstrap.py), then run the
# production server, or the command given.
#
#   entrypoint.sh [serve]        the server: gunicorn with tracl.server.wsgi
#   entrypoint.sh setup          only make or upgrade the environment
#   entrypoint.sh COMMAND ...    run COMMAND in a ready environment, e.g.
#                                trac-admin "$TRAC_ENV" learning doctor
#
# Environment variables (secrets marked *; give them from a secret store,
# never in an image, a template or trac.ini):
#
#   TRAC_ENV              the Trac environment's directory (required)
#   DATABASE_URL          Trac database URI without password, or the parts:
#   DB_HOST, DB_PORT, DB_NAME, DB_USER
#   DB_PASSWORD *         put into the URI in the container's trac.ini
#   DB_SSLMODE            libpq sslmode: disable ... verify-full (default
#                         require); exported as PGSSLMODE, since Trac's
#                         PostgreSQL backend passes no URI option to libpq
#   PGSSLROOTCERT         CA bundle for verify-ca/verify-full (default: the
#                         RDS bundle in the image)
#   DB_WAIT_SECONDS       how long to wait for the database at start (60)
#   TRAC_INI__<SECTION>__<OPTION>
#                         any trac.ini option, e.g. TRAC_INI__LEARNING__CACHE
#   TRAC_ADMIN_SUBS       Cognito subs granted TRAC_ADMIN (comma-separated)
#   REDIS_AUTH_TOKEN *    read by tracl ([redis], ElastiCache AUTH token)
#   ANTHROPIC_API_KEY *   read by tracl ([anthropic])
#   NEO4J_PASSWORD *      read by tracl ([neo4j], the reading user)
#   NEO4J_WRITE_PASSWORD *  read by `trac-admin ENV learning neo4j load`
#   EMBEDDINGS_API_KEY *  read by tracl ([embeddings], HttpEmbedder only)
#
# The server (docker/gunicorn.conf.py and tracl.server.wsgi; details there):
#
#   PORT                  port gunicorn listens on (8000)
#   WEB_CONCURRENCY       worker processes (2, one per vCPU)
#   GUNICORN_THREADS      request threads per worker (8)
#   GUNICORN_TIMEOUT      seconds a silent worker lives (60)
#   MAX_REQUESTS          requests before a worker is replaced (5000)
#   TRAC_DB_POOL_SIZE     database connections per worker (= threads)
#   LOG_FORMAT            gunicorn's lines: json or text (json)
#   FORWARDED_ALLOW_IPS   proxies trusted for X-Forwarded-* ('*' behind
#                         the load balancer)
#   TRACL_STATIC_DIR      output of `trac-admin ENV deploy` to serve from
#   STATIC_MAX_AGE        seconds browsers keep static files (3600)
#   TRACL_METRICS_DIR     where the workers' request metrics meet
set -eu

: "${TRAC_ENV:?Set TRAC_ENV to the Trac environment directory}"

# This script's folder (/opt/tracl/docker in the image).
HERE=$(cd "$(dirname "$0")" && pwd)

# The RDS certificate authorities, downloaded into the image.
RDS_CA_BUNDLE=/etc/ssl/certs/rds-global-bundle.pem

DB_SSLMODE="${DB_SSLMODE:-require}"
export DB_SSLMODE
export PGSSLMODE="${PGSSLMODE:-$DB_SSLMODE}"
if [ -z "${PGSSLROOTCERT:-}" ] && [ -f "$RDS_CA_BUNDLE" ]; then
    export PGSSLROOTCERT="$RDS_CA_BUNDLE"
fi

# trac.ini holds the database password: readable by this user only.
umask 077
python "$HERE/bootstrap.py"
umask 022

command="${1:-serve}"
case "$command" in
    serve)
        # gunicorn puts its working folder on sys.path: the environment's
        # holds no Python that could shadow the installed TracLearn.
        cd "$TRAC_ENV"
        exec gunicorn -c "$HERE/gunicorn.conf.py" tracl.server.wsgi:application
        ;;
    setup)
        exit 0
        ;;
    *)
        exec "$@"
        ;;
esac
