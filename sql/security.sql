-- Hostile roles against the chunked jobs: each attack of issue 26 and its
-- neighbours, then the legitimate use beside it. cd_sec_attacker has CREATE
-- on public (as databases created before PostgreSQL 15 still grant);
-- cd_sec_victim and cd_sec_peer share the group role cd_sec_team;
-- cd_sec_bypass has BYPASSRLS; "Cd-Sec-Quoted" needs quoting.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS sec CASCADE;
DROP ROLE IF EXISTS cd_sec_attacker;
DROP ROLE IF EXISTS cd_sec_victim;
DROP ROLE IF EXISTS cd_sec_peer;
DROP ROLE IF EXISTS cd_sec_team;
DROP ROLE IF EXISTS cd_sec_bypass;
DROP ROLE IF EXISTS "Cd-Sec-Quoted";
RESET client_min_messages;
CREATE ROLE cd_sec_attacker LOGIN;
CREATE ROLE cd_sec_victim LOGIN;
CREATE ROLE cd_sec_team;
CREATE ROLE cd_sec_peer LOGIN;
GRANT cd_sec_team TO cd_sec_victim, cd_sec_peer;
CREATE ROLE cd_sec_bypass BYPASSRLS;
CREATE ROLE "Cd-Sec-Quoted" LOGIN;
GRANT CREATE ON SCHEMA public TO cd_sec_attacker;
CREATE SCHEMA sec;
GRANT USAGE, CREATE ON SCHEMA sec TO cd_sec_attacker, cd_sec_victim, cd_sec_peer, cd_sec_bypass, "Cd-Sec-Quoted";
SET search_path = sec, public;
SELECT setval('cascade_delete_job_job_seq', 1000) AS first_job;  -- job numbers whatever ran before

-- What the attacker's code did, written by it: a superuser owns the log so
-- that nothing but the attacker's own rights decides what it may write.
CREATE TABLE sec.log (who text, what text);
GRANT INSERT, SELECT ON sec.log TO PUBLIC;

-- ---- 1. A superuser runs the attacker's job: the chunk runs as the
-- attacker, restricted, so her trigger cannot RESET ROLE or SET ROLE back.
SET ROLE cd_sec_attacker;
CREATE TABLE sec.a_parent (id int PRIMARY KEY);
CREATE TABLE sec.a_child (id int PRIMARY KEY, parent_id int REFERENCES sec.a_parent ON DELETE CASCADE);
INSERT INTO sec.a_parent VALUES (1), (2), (3);
INSERT INTO sec.a_child VALUES (1, 1), (2, 2), (3, 3);
CREATE FUNCTION sec.a_escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sec.log VALUES (current_user, 'trigger');
    BEGIN
        RESET ROLE;
        INSERT INTO sec.log VALUES (current_user, 'after RESET ROLE');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO sec.log VALUES (current_user, 'RESET ROLE: ' || SQLERRM);
    END;
    BEGIN
        SET ROLE postgres;
        INSERT INTO sec.log VALUES (current_user, 'after SET ROLE');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO sec.log VALUES (current_user, 'SET ROLE: ' || SQLERRM);
    END;
    BEGIN
        SET SESSION AUTHORIZATION postgres;
        INSERT INTO sec.log VALUES (current_user, 'after SET SESSION AUTHORIZATION');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO sec.log VALUES (current_user, 'SET SESSION AUTHORIZATION: ' || SQLERRM);
    END;
    BEGIN
        LISTEN cd_sec;  -- refused only in a security-restricted operation
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO sec.log VALUES (current_user, 'LISTEN: ' || SQLERRM);
    END;
    BEGIN
        -- a temporary object would outlive the chunk in the runner's session
        IF to_regclass('pg_temp.cd_sec_shadow') IS NULL THEN
            CREATE TEMP TABLE cd_sec_shadow (x int);
        END IF;
        INSERT INTO sec.log VALUES (current_user, 'CREATE TEMP TABLE: done');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO sec.log VALUES (current_user, 'CREATE TEMP TABLE: ' || SQLERRM);
    END;
    BEGIN
        EXECUTE 'ALTER ROLE cd_sec_attacker SUPERUSER';
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO sec.log VALUES (current_user, 'ALTER ROLE: ' || SQLERRM);
    END;
    RETURN OLD;
END $$;
CREATE TRIGGER a_escalate BEFORE DELETE ON sec.a_child FOR EACH ROW EXECUTE FUNCTION sec.a_escalate();
SELECT cascade_delete_start('sec.a_parent', 1) AS attacker_job \gset
RESET ROLE;
CALL cascade_delete_run(:attacker_job);
SELECT who, what FROM sec.log ORDER BY what;
SELECT rolsuper FROM pg_roles WHERE rolname = 'cd_sec_attacker';
SELECT state, done_rows FROM cascade_delete_jobs WHERE job = :attacker_job;
TRUNCATE sec.log;

-- The same job started in the background: the worker connects as the job's
-- owner, not as the superuser who starts it. With no runner allowed, none
-- starts (53400); a role that cannot log in gets none either (42501).
SET ROLE cd_sec_attacker;
SELECT cascade_delete_start('sec.a_parent', 2) AS attacker_job \gset
RESET ROLE;
SET cascade_delete.background_runners_per_role = 0;
SELECT cascade_delete_run_in_background(:attacker_job);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET cascade_delete.background_runners_per_role;
ALTER ROLE cd_sec_attacker NOLOGIN;
SELECT cascade_delete_run_in_background(:attacker_job);
\echo sqlstate :LAST_ERROR_SQLSTATE
ALTER ROLE cd_sec_attacker LOGIN;
SET cascade_delete.background_runners_per_role = 1;  -- only a superuser may
SET ROLE cd_sec_attacker;
SET cascade_delete.background_runners_per_role = 100;
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
RESET cascade_delete.background_runners_per_role;

-- ---- 2. Operators and functions shadowed in public: the runner's own code
-- holds no operator, and every function of the extension that does pins
-- its search_path.
SET ROLE cd_sec_attacker;
CREATE FUNCTION public.cd_sec_evil_gt(double precision, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sec.log VALUES (current_user, 'evil operator');
    RETURN $1::double precision > $2::double precision;
END $$;
CREATE OPERATOR public.> (leftarg = double precision, rightarg = integer, function = public.cd_sec_evil_gt);
CREATE FUNCTION public.cd_sec_evil_eq(regclass, regclass) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sec.log VALUES (current_user, 'evil operator');
    RETURN $1::oid = $2::oid;
END $$;
CREATE OPERATOR public.= (leftarg = regclass, rightarg = regclass, function = public.cd_sec_evil_eq);
CREATE FUNCTION public.cd_sec_evil_mul(interval, integer) RETURNS interval LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sec.log VALUES (current_user, 'evil operator');
    RETURN $1 * $2::double precision;
END $$;
CREATE OPERATOR public.* (leftarg = interval, rightarg = integer, function = public.cd_sec_evil_mul);
SELECT cascade_delete_start('sec.a_parent', 3, pause => '10 ms', rows_per_second => 1000) AS attacker_job \gset
RESET ROLE;
SET search_path = public, sec;  -- the superuser's session: public first
CALL cascade_delete_run(:attacker_job);
SELECT cascade_delete_pace(:attacker_job, chunk_rows => 10);
SELECT count(*) AS evil_calls FROM sec.log WHERE what = 'evil operator';
SELECT state FROM cascade_delete_jobs WHERE job = :attacker_job;
SET search_path = sec, public;
-- Every function and procedure of the extension that is not C pins
-- search_path, but the runner (it commits, which SET forbids) and
-- cascade_delete_start_where (it evaluates the caller's condition).
SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_catalog.pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'cascade_delete' AND p.prolang <> (SELECT oid FROM pg_catalog.pg_language WHERE lanname = 'c')
  AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=pg_catalog, pg_temp'], false)
ORDER BY 1, 2;
TRUNCATE sec.log;

-- ---- 3. The job tables are written by the extension only.
SET ROLE cd_sec_victim;
CREATE TABLE sec.v_parent (id int PRIMARY KEY);
CREATE TABLE sec.v_child (id int PRIMARY KEY, parent_id int REFERENCES sec.v_parent ON DELETE CASCADE);
CREATE TABLE sec.v_secret (id int PRIMARY KEY);
INSERT INTO sec.v_parent SELECT generate_series(1, 5);
INSERT INTO sec.v_child SELECT g, 1 + g % 5 FROM generate_series(1, 50) g;
INSERT INTO sec.v_secret VALUES (1), (2);
SELECT cascade_delete_start('sec.v_parent', 1, chunk_rows => 5) AS victim_job \gset
RESET ROLE;
SET ROLE cd_sec_attacker;
SELECT count(*) AS jobs_seen FROM cascade_delete_job;
INSERT INTO cascade_delete_job (target, roots) VALUES ('sec.a_parent', '1');
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO cascade_delete_job (job, target, roots) OVERRIDING SYSTEM VALUE VALUES (-1, 'sec.a_parent', '1');
\echo sqlstate :LAST_ERROR_SQLSTATE
UPDATE cascade_delete_job SET state = 'running', pause = '100 years';
\echo sqlstate :LAST_ERROR_SQLSTATE
UPDATE cascade_delete_job_key SET job = :victim_job, table_name = 'sec.v_secret';
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO cascade_delete_job_key (job, owner, delete_order, table_name, keys)
VALUES (:victim_job, 'cd_sec_victim', -1, 'sec.v_secret', '{1,2}');
\echo sqlstate :LAST_ERROR_SQLSTATE
DELETE FROM cascade_delete_job_table;
\echo sqlstate :LAST_ERROR_SQLSTATE
BEGIN;
LOCK TABLE cascade_delete_job, cascade_delete_job_key IN ACCESS EXCLUSIVE MODE;
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT nextval('cascade_delete_job_job_seq');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- the internal functions: not executable, or acting for the caller only
SELECT cascade_delete_job_delete_as('sec.v_secret', '{1,2}', 'cd_sec_victim'::regrole::oid, NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_job_start_worker_as(:victim_job, 'cd_sec_victim'::regrole::oid);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_job_w_cancel('postgres'::regrole::oid, :victim_job, NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_job_write('cancel', :victim_job);
SELECT cascade_delete_job_write('chunk', :victim_job, '{"max_keys": 1}');
SELECT cascade_delete_job_plan('sec.v_parent', 2, :victim_job);
SELECT cascade_delete_job_planned(:victim_job, '{"deleted": {"sec.v_secret": 2}}');
-- a writer of the attacker's own in the extension's schema is not one
CREATE FUNCTION public.cascade_delete_job_w_steal(caller oid, job bigint, args jsonb) RETURNS jsonb
LANGUAGE sql RETURN to_jsonb(current_user::text);
SELECT cascade_delete_job_write('steal', NULL);
SELECT cascade_delete_job_write('x; DROP TABLE sec.log', NULL);
-- an advisory lock on the job blocks nobody
SELECT pg_advisory_lock(1667525218, :victim_job);
-- planning a second time, or under another table, is refused
SELECT cascade_delete_start('sec.a_parent', 3) AS own_job \gset
SELECT cascade_delete_job_plan('sec.a_parent', 2, :own_job);
SELECT cascade_delete_job_planned(:own_job, '{"deleted": {"sec.a_child": 1000}}');
SELECT cascade_delete_job_plan('sec.v_parent', 2, :own_job);
RESET ROLE;
-- the bounds hold whoever writes
\set VERBOSITY terse
UPDATE cascade_delete_job SET pause = '100 years' WHERE job = :victim_job;
\set VERBOSITY default
\echo sqlstate :LAST_ERROR_SQLSTATE
SET ROLE cd_sec_victim;
CALL cascade_delete_run(:victim_job);
SELECT state, planned_rows, done_rows, runner_alive FROM cascade_delete_jobs WHERE job = :victim_job;
SELECT (SELECT count(*) FROM sec.v_secret) AS secrets, (SELECT count(*) FROM sec.v_child) AS children;
RESET ROLE;
SELECT pg_advisory_unlock_all();

-- ---- 4. Co-members of a group role, and BYPASSRLS: another member's job
-- is not theirs to see, run, pace or cancel.
SET ROLE cd_sec_victim;
SELECT cascade_delete_start('sec.v_parent', 2) AS victim_job \gset
SET ROLE cd_sec_peer;
SELECT count(*) AS jobs_seen FROM cascade_delete_jobs;
CALL cascade_delete_run(:victim_job);
SELECT cascade_delete_cancel(:victim_job);
RESET ROLE;
GRANT SELECT ON cascade_delete_job TO cd_sec_bypass;
SET ROLE cd_sec_bypass;
SELECT count(*) > 0 AS sees_rows FROM cascade_delete_job;
CALL cascade_delete_run(:victim_job);
SELECT cascade_delete_pace(:victim_job, pause => '1 day');
RESET ROLE;
REVOKE SELECT ON cascade_delete_job FROM cd_sec_bypass;
-- the owner still can
SET ROLE cd_sec_victim;
SELECT cascade_delete_cancel(:victim_job);
SELECT state FROM cascade_delete_jobs WHERE job = :victim_job;
SELECT cascade_delete_forget(:victim_job);
SELECT count(*) FROM cascade_delete_jobs WHERE job = :victim_job;
RESET ROLE;

-- ---- 5. A role whose name needs quoting starts and runs its jobs.
SET ROLE "Cd-Sec-Quoted";
CREATE TABLE sec.q (id int PRIMARY KEY);
INSERT INTO sec.q VALUES (1), (2);
SELECT cascade_delete_start('sec.q', 1) AS quoted_job \gset
CALL cascade_delete_run(:quoted_job);
SELECT owner, state, done_rows FROM cascade_delete_jobs WHERE job = :quoted_job;
RESET ROLE;

-- ---- 6. A cancelled job whose runner died holding its keys: a run (or
-- cancelling again) removes them, instead of keeping them forever.
SET ROLE cd_sec_victim;
SELECT cascade_delete_start('sec.v_parent', 3) AS victim_job \gset
RESET ROLE;
UPDATE cascade_delete_job SET state = 'cancelled', runner_pid = 2147483647, runner_started = now()
WHERE job = :victim_job;
SELECT count(*) > 0 AS keys_left FROM cascade_delete_job_key WHERE job = :victim_job;
SET ROLE cd_sec_victim;
CALL cascade_delete_run(:victim_job);
SELECT count(*) AS keys_left FROM cascade_delete_job_key WHERE job = :victim_job;
RESET ROLE;

-- ---- 7. One-transaction calls follow PostgreSQL's RI privilege model: a
-- referencing table's rows change as its owner, so a table that the attacker
-- hangs under another role's table (REFERENCES is all it takes) runs her
-- triggers as her, BEFORE and AFTER, whoever deletes. As under PostgreSQL's
-- own cascade, not in a restricted operation (the caller's deferred
-- constraints stay deferred): her trigger can create a temporary table.
CREATE TABLE sec.admin_parent (id int PRIMARY KEY);
INSERT INTO sec.admin_parent VALUES (1), (2);
GRANT REFERENCES ON sec.admin_parent TO cd_sec_attacker;
SET ROLE cd_sec_attacker;
CREATE TABLE sec.m_ref (id int PRIMARY KEY, parent_id int REFERENCES sec.admin_parent ON DELETE CASCADE);
INSERT INTO sec.m_ref VALUES (1, 1), (2, 2);
CREATE TRIGGER m_ref_before BEFORE DELETE ON sec.m_ref FOR EACH ROW EXECUTE FUNCTION sec.a_escalate();
CREATE TRIGGER m_ref_after AFTER DELETE ON sec.m_ref FOR EACH ROW EXECUTE FUNCTION sec.a_escalate();
-- and an application-only CASCADE policy of hers
CREATE TABLE sec.m_note (id int PRIMARY KEY, parent_id int);
INSERT INTO sec.m_note VALUES (1, 1);
SELECT cascade_delete_set_policy('sec.m_note', '{parent_id}', 'CASCADE', parent => 'sec.admin_parent');
CREATE TRIGGER m_note_after AFTER DELETE ON sec.m_note FOR EACH ROW EXECUTE FUNCTION sec.a_escalate();
RESET ROLE;
SELECT cascade_delete('sec.admin_parent', 1);
SELECT who, what, count(*) FROM sec.log GROUP BY 1, 2 ORDER BY 2;
SELECT rolsuper FROM pg_roles WHERE rolname = 'cd_sec_attacker';
TRUNCATE sec.log;
-- A parent link policy deletes the rows of its parent only if its owner may:
-- hers, towards the victim's table, deletes nothing, whoever calls.
SET ROLE cd_sec_victim;
CREATE TABLE sec.v_profile (id int PRIMARY KEY);
INSERT INTO sec.v_profile VALUES (1), (2);
GRANT SELECT, REFERENCES ON sec.v_profile TO cd_sec_attacker;
SET ROLE cd_sec_attacker;
CREATE TABLE sec.a_link (id int PRIMARY KEY, profile_id int);
INSERT INTO sec.a_link VALUES (1, 1);
SELECT cascade_delete_set_policy('sec.a_link', '{profile_id}', 'CASCADE', parent => 'sec.v_profile',
                                 parent_link => true);
SELECT cascade_delete('sec.a_link', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT cascade_delete('sec.a_link', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS profiles FROM sec.v_profile;
-- given DELETE on the victim's table, she could delete its rows anyway: then it works
GRANT DELETE ON sec.v_profile TO cd_sec_attacker;
SET ROLE cd_sec_attacker;
SELECT cascade_delete('sec.a_link', 1);
-- The link and its way back make a cycle, whose rows go in one statement, as
-- one role: the caller's, which no trigger of another owner's table may run
-- with (refused, nothing deleted), or the tables' one owner's.
INSERT INTO sec.a_link VALUES (2, 2);
CREATE TRIGGER a_link_after AFTER DELETE ON sec.a_link FOR EACH ROW EXECUTE FUNCTION sec.a_escalate();
RESET ROLE;
SELECT cascade_delete('sec.a_link', 2);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS log_rows, (SELECT count(*) FROM sec.v_profile) AS profiles FROM sec.log;
ALTER TABLE sec.v_profile OWNER TO cd_sec_attacker;
SELECT cascade_delete('sec.a_link', 2);
SELECT who, count(*) FROM sec.log WHERE what = 'trigger' GROUP BY 1;

SET client_min_messages = warning;
DROP OPERATOR public.> (double precision, integer);
DROP OPERATOR public.= (regclass, regclass);
DROP OPERATOR public.* (interval, integer);
DROP FUNCTION public.cd_sec_evil_gt(double precision, integer), public.cd_sec_evil_eq(regclass, regclass),
    public.cd_sec_evil_mul(interval, integer), public.cascade_delete_job_w_steal(oid, bigint, jsonb);
DELETE FROM cascade_delete_job;
DROP SCHEMA sec CASCADE;
REVOKE CREATE ON SCHEMA public FROM cd_sec_attacker;
DROP OWNED BY cd_sec_attacker, cd_sec_victim, cd_sec_peer, cd_sec_bypass, "Cd-Sec-Quoted";
DROP ROLE cd_sec_attacker, cd_sec_victim, cd_sec_peer, cd_sec_team, cd_sec_bypass, "Cd-Sec-Quoted";
