-- Errors in the middle of a cascade: a statement timeout (57014) and an error
-- raised by a user trigger keep their SQLSTATE; every table is left as it was,
-- the session goes on, and nothing of the call is left behind.
\set SHOW_CONTEXT never
CREATE SCHEMA cancel;
SET search_path = cancel, public;
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE, pad text);
CREATE TABLE grandchild (id int PRIMARY KEY, child_id int REFERENCES child ON DELETE CASCADE);
CREATE INDEX ON child (parent_id);
CREATE INDEX ON grandchild (child_id);
INSERT INTO parent VALUES (1), (2);
INSERT INTO child SELECT g, 1 + g % 2, repeat('x', 100) FROM generate_series(1, 20000) g;
INSERT INTO grandchild SELECT g, 1 + g % 20000 FROM generate_series(1, 40000) g;
-- Keys left in cascade_delete's key tables (temp tables reused by the session).
-- A successful call leaves a small key set (up to 1000 rows per table) for the
-- next call to clear, and truncates larger ones; a cancelled or failed call
-- leaves nothing of its own (here: the 1 root key of the last successful call).
CREATE FUNCTION leftover_keys() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n bigint := 0;
    m bigint;
BEGIN
    FOR r IN SELECT c.oid::regclass AS t FROM pg_class c
             WHERE c.relname LIKE 'cascade\_delete\_%' AND c.relnamespace = pg_my_temp_schema()
               AND c.relkind = 'r'
    LOOP
        EXECUTE format('SELECT count(*) FROM %s', r.t) INTO m;
        n := n + m;
    END LOOP;
    RETURN n;
END $$;
CREATE VIEW state AS
    SELECT (SELECT count(*) FROM parent) AS parents, (SELECT count(*) FROM child) AS children,
           (SELECT count(*) FROM grandchild) AS grandchildren, leftover_keys() AS leftover_keys;
SELECT * FROM state;

-- A trigger that sleeps on one row in the middle of the child deletes.
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.id = 5001 THEN PERFORM pg_sleep(5); END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER slow BEFORE DELETE ON child FOR EACH ROW EXECUTE FUNCTION slow();
SET statement_timeout = '500ms';
SELECT cascade_delete('parent', 2);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT * FROM state;

-- Caught inside a PL/pgSQL block (a subtransaction), then retried in the same
-- transaction: the failed attempt leaves nothing behind.
BEGIN;
SET LOCAL statement_timeout = '500ms';
DO $$
BEGIN
    PERFORM cancel_me FROM (SELECT cascade_delete('cancel.parent', 2) AS cancel_me) s;
EXCEPTION WHEN query_canceled THEN
    RAISE NOTICE 'caught %', SQLSTATE;
END $$;
SET LOCAL statement_timeout = 0;
DROP TRIGGER slow ON child;
SELECT * FROM state;
SELECT cascade_delete('parent', 2);
COMMIT;
SELECT * FROM state;

-- An error raised by a user trigger reaches the caller with its own SQLSTATE.
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.id = 777 THEN
        RAISE EXCEPTION 'grandchild % is archived', OLD.id USING ERRCODE = 'CD777';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER refuse BEFORE DELETE ON grandchild FOR EACH ROW EXECUTE FUNCTION refuse();
SELECT cascade_delete('parent', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM state;
SELECT cascade_delete('parent', 1, dry_run => true) -> 'total' AS would_delete;

SET client_min_messages = warning;
DROP SCHEMA cancel CASCADE;
