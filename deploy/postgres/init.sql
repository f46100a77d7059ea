-- Database, login roles and schemas for petrocs (docker-compose / a fresh server).
-- One role per service, owning its own schema and nothing else.
-- Passwords here are for the local compose stack only; a cluster takes them from secrets.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['intake', 'dispatch', 'sla', 'complaint', 'survey', 'notify'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cs_' || s) THEN
      EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', 'cs_' || s, 'compose-' || s);
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE petrocs TO %I', 'cs_' || s);
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', s, 'cs_' || s);
  END LOOP;
END $$;
