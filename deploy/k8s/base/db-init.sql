-- petrocs database bootstrap, run by the Job petrocs-db-init with psql as an
-- administrator, in database petrocs: one login role per service with the
-- password of Secret petrocs-db, and its schema owned by it. Idempotent: a
-- second run only sets the passwords again (a rotation). The schemas' tables
-- are not made here: each service applies its own migrations at start-up
-- under an advisory lock (docs/operations.md, "Upgrading").
-- The passwords come from the environment (\getenv, psql 15), never from the
-- command line.
\set ON_ERROR_STOP on
\getenv pw_intake CS_INTAKE_DB_PASSWORD
\getenv pw_dispatch CS_DISPATCH_DB_PASSWORD
\getenv pw_sla CS_SLA_DB_PASSWORD
\getenv pw_complaint CS_COMPLAINT_DB_PASSWORD
\getenv pw_survey CS_SURVEY_DB_PASSWORD
\getenv pw_notify CS_NOTIFY_DB_PASSWORD

BEGIN;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SELECT format('CREATE ROLE %I LOGIN', r)
  FROM unnest(ARRAY['cs_intake', 'cs_dispatch', 'cs_sla', 'cs_complaint', 'cs_survey',
                    'cs_notify']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE cs_intake LOGIN PASSWORD :'pw_intake';
ALTER ROLE cs_dispatch LOGIN PASSWORD :'pw_dispatch';
ALTER ROLE cs_sla LOGIN PASSWORD :'pw_sla';
ALTER ROLE cs_complaint LOGIN PASSWORD :'pw_complaint';
ALTER ROLE cs_survey LOGIN PASSWORD :'pw_survey';
ALTER ROLE cs_notify LOGIN PASSWORD :'pw_notify';
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r)
  FROM unnest(ARRAY['cs_intake', 'cs_dispatch', 'cs_sla', 'cs_complaint', 'cs_survey',
                    'cs_notify']) AS r \gexec
CREATE SCHEMA IF NOT EXISTS intake AUTHORIZATION cs_intake;
CREATE SCHEMA IF NOT EXISTS dispatch AUTHORIZATION cs_dispatch;
CREATE SCHEMA IF NOT EXISTS sla AUTHORIZATION cs_sla;
CREATE SCHEMA IF NOT EXISTS complaint AUTHORIZATION cs_complaint;
CREATE SCHEMA IF NOT EXISTS survey AUTHORIZATION cs_survey;
CREATE SCHEMA IF NOT EXISTS notify AUTHORIZATION cs_notify;
COMMIT;
