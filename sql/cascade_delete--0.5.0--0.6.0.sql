-- cascade_delete 0.5.0 -> 0.6.0: jobs that no role can turn against their
-- owner, another role or a superuser.
--
-- * The job tables are read by their owners (row-level security) and
--   written by the extension only: PUBLIC has SELECT, nothing else. Every
--   write is a writer function cascade_delete_job_w_<op>(caller, job, args),
--   called as the extension's owner by cascade_delete_job_write(op, job,
--   args) (C, src/job_state.cpp), which hands it the caller's role OID; each
--   writer checks that the caller has the job owner's privileges.
-- * A chunk runs as the job's owner under SECURITY_RESTRICTED_OPERATION
--   (cascade_delete_job_delete_as), whoever runs the job: a trigger cannot
--   RESET ROLE to the runner's role. A background runner connects as the
--   job's owner, at most cascade_delete.background_runners_per_role a role.
-- * One runner per job, recorded as its process id and start time, which only
--   the extension writes (no advisory lock another role could take).
-- * Every function pins search_path, or (the runner, a procedure that
--   commits, and the functions that evaluate the caller's SQL) calls only
--   schema-qualified functions with no operator of its own.
-- * A chunk commits as the session's synchronous_commit says.
\echo Use "ALTER EXTENSION cascade_delete UPDATE TO '0.6.0'" to load this file. \quit

-- ---- The job tables: SELECT for their owners, no DML, no LOCK beyond ACCESS SHARE.

DROP POLICY own_jobs_only ON @extschema@.cascade_delete_job_table;
DROP POLICY own_jobs_only ON @extschema@.cascade_delete_job_key;
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cascade_delete_job', 'cascade_delete_job_table', 'cascade_delete_job_key'] LOOP
        EXECUTE pg_catalog.format('DROP POLICY owner_only ON @extschema@.%I', t);
        EXECUTE pg_catalog.format('CREATE POLICY owner_only ON @extschema@.%I FOR SELECT '
                                  'USING (pg_catalog.pg_has_role(owner, ''USAGE''))', t);
        EXECUTE pg_catalog.format('REVOKE ALL ON @extschema@.%I FROM PUBLIC', t);
        EXECUTE pg_catalog.format('GRANT SELECT ON @extschema@.%I TO PUBLIC', t);
        -- set by the writers from the caller's OID (current_user::regrole
        -- folded a quoted name's case)
        EXECUTE pg_catalog.format('ALTER TABLE @extschema@.%I ALTER COLUMN owner DROP DEFAULT', t);
    END LOOP;
END $$;
REVOKE ALL ON SEQUENCE @extschema@.cascade_delete_job_job_seq, @extschema@.cascade_delete_job_key_id_seq FROM PUBLIC;

-- The bounds cascade_delete_job_check_pace enforces, in the table itself.
UPDATE @extschema@.cascade_delete_job
SET chunk_time = LEAST(chunk_time, interval '1 day'), pause = LEAST(pause, interval '1 day'),
    lock_timeout = LEAST(GREATEST(lock_timeout, interval '1 ms'), interval '1 day')
WHERE chunk_time OPERATOR(pg_catalog.>) interval '1 day' OR pause OPERATOR(pg_catalog.>) interval '1 day'
   OR lock_timeout OPERATOR(pg_catalog.<) interval '1 ms' OR lock_timeout OPERATOR(pg_catalog.>) interval '1 day';
ALTER TABLE @extschema@.cascade_delete_job
    ADD CONSTRAINT cascade_delete_job_pace_bounds
        CHECK (chunk_time OPERATOR(pg_catalog.<=) interval '1 day' AND pause OPERATOR(pg_catalog.<=) interval '1 day'
               AND lock_timeout OPERATOR(pg_catalog.>=) interval '1 ms'
               AND lock_timeout OPERATOR(pg_catalog.<=) interval '1 day'),
    -- with runner_pid, the runner's backend (a later process may reuse the pid)
    ADD COLUMN runner_started timestamptz;
COMMENT ON COLUMN @extschema@.cascade_delete_job.runner_started IS
    'When the runner''s backend started: with runner_pid, which process runs the job';

-- ---- Runners: alive when their backend is.

CREATE FUNCTION @extschema@.cascade_delete_job_runner_alive(pid integer, started timestamptz)
RETURNS boolean AS 'MODULE_PATHNAME', 'cascade_delete_job_runner_alive'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cascade_delete_job_runner_alive(integer, timestamptz) IS
    'Whether the backend with this process id and start time is still running (a job''s runner)';

-- This backend's start (what runner_started records).
CREATE FUNCTION @extschema@.cascade_delete_job_backend_start() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp
RETURN (SELECT a.backend_start FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid());

-- ---- The writers and the one way to call them.

CREATE FUNCTION @extschema@.cascade_delete_job_write(op text, job bigint, args jsonb DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'cascade_delete_job_write'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cascade_delete_job_write(text, bigint, jsonb) IS
    'Internal: runs the job writer cascade_delete_job_w_<op> as the extension''s owner, for the caller''s role';

-- The job for a writer acting for caller, locked FOR UPDATE when lock: it must
-- exist and caller must have its owner's privileges.
CREATE FUNCTION @extschema@.cascade_delete_job_for(caller oid, id bigint, lock boolean)
RETURNS @extschema@.cascade_delete_job
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'cascade_delete: job must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lock THEN
        SELECT * INTO j FROM @extschema@.cascade_delete_job t WHERE t.job = id FOR UPDATE;
    ELSE
        SELECT * INTO j FROM @extschema@.cascade_delete_job t WHERE t.job = id;
    END IF;
    IF NOT FOUND OR NOT pg_has_role(caller, j.owner::oid, 'USAGE') THEN
        RAISE EXCEPTION 'cascade_delete job % does not exist', id
            USING ERRCODE = 'undefined_object', HINT = 'Jobs are visible to their owner only: see cascade_delete_jobs.';
    END IF;
    RETURN j;
END $$;

-- Whether j's runner is alive.
CREATE FUNCTION @extschema@.cascade_delete_job_has_runner(j @extschema@.cascade_delete_job) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN coalesce(@extschema@.cascade_delete_job_runner_alive(j.runner_pid, j.runner_started), false);

-- This backend stops running j (a writer's step): it is no longer recorded as
-- its runner, and the keys of a cancelled job, which a cancel left to it, go.
CREATE FUNCTION @extschema@.cascade_delete_job_stop_running(j @extschema@.cascade_delete_job) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF j.runner_pid IS DISTINCT FROM pg_backend_pid() THEN
        RETURN;
    END IF;
    UPDATE @extschema@.cascade_delete_job t SET runner_pid = NULL, runner_started = NULL
    WHERE t.job = j.job AND t.runner_pid = pg_backend_pid();
    IF j.state = 'cancelled' THEN
        DELETE FROM @extschema@.cascade_delete_job_key k WHERE k.job = j.job;
    END IF;
END $$;

-- A new job, owned by the caller, its pace checked.
CREATE FUNCTION @extschema@.cascade_delete_job_w_create(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    target regclass := (args ->> 'target')::oid::regclass;
    chunk_rows integer := (args ->> 'chunk_rows')::integer;
    chunk_time interval := (args ->> 'chunk_time')::interval;
    pause interval := (args ->> 'pause')::interval;
    lock_timeout interval := (args ->> 'lock_timeout')::interval;
    rows_per_second integer := (args ->> 'rows_per_second')::integer;
BEGIN
    IF args ->> 'roots' IS NULL THEN
        RAISE EXCEPTION 'cascade_delete_start: the key, keys or condition must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF target IS NULL OR chunk_rows IS NULL OR chunk_time IS NULL OR pause IS NULL OR lock_timeout IS NULL THEN
        RAISE EXCEPTION 'cascade_delete_start: target, chunk_rows, chunk_time, pause and lock_timeout must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM @extschema@.cascade_delete_job_check_pace('cascade_delete_start', chunk_rows, chunk_time, pause,
                                                      lock_timeout, rows_per_second);
    IF current_setting('transaction_read_only')::boolean THEN
        RAISE EXCEPTION 'cannot start a cascade_delete job in a read-only transaction'
            USING ERRCODE = 'read_only_sql_transaction';
    END IF;
    INSERT INTO @extschema@.cascade_delete_job (owner, target, roots, chunk_rows, chunk_time, pause, lock_timeout,
                                                rows_per_second)
    VALUES (caller::regrole, target, args ->> 'roots', chunk_rows, chunk_time, pause, lock_timeout, rows_per_second)
    RETURNING cascade_delete_job.job INTO id;
    RETURN to_jsonb(id);
END $$;

-- The plan's counts per table (estimated: the tables the report names), and
-- the graph it followed; only by the job's owner, once.
CREATE FUNCTION @extschema@.cascade_delete_job_w_planned(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, true);
BEGIN
    IF j.owner::oid <> caller OR j.graph <> '' THEN
        RAISE EXCEPTION 'cascade_delete job % is planned already, or not by this role', j.job
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO @extschema@.cascade_delete_job_table (job, owner, table_name, planned_deleted, planned_updated,
                                                      planned_estimated)
    SELECT j.job, j.owner, c.table_name, c.deleted, c.updated,
           c.table_name IN (SELECT e::regclass FROM jsonb_array_elements_text(coalesce(args -> 'estimated', '[]')) e)
    FROM @extschema@.cascade_delete_job_counts(args) c;
    UPDATE @extschema@.cascade_delete_job t SET graph = md5(@extschema@.cascade_delete_graph(t.target))
    WHERE t.job = j.job;
    RETURN to_jsonb(j.job);
END $$;

-- A runner begins: the job becomes running, with this backend as its one
-- runner. Returns the runner's first step (done: nothing to run).
CREATE FUNCTION @extschema@.cascade_delete_job_w_begin(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, true);
    max_keys integer;
BEGIN
    IF j.state IN ('finished', 'cancelled') THEN
        -- a cancelled job whose runner died holding its keys: they go now
        IF j.state = 'cancelled' AND NOT @extschema@.cascade_delete_job_has_runner(j) THEN
            DELETE FROM @extschema@.cascade_delete_job_key k WHERE k.job = j.job;
        END IF;
        RAISE NOTICE 'cascade_delete job % is %', j.job, j.state;
        RETURN jsonb_build_object('done', true);
    END IF;
    IF j.runner_pid IS DISTINCT FROM pg_backend_pid() AND @extschema@.cascade_delete_job_has_runner(j) THEN
        RAISE EXCEPTION 'cascade_delete job % is being run by another session', j.job
            USING ERRCODE = 'object_in_use', DETAIL = format('Its runner: process %s.', j.runner_pid);
    END IF;
    UPDATE @extschema@.cascade_delete_job t
    SET state = 'running', runner_pid = pg_backend_pid(), runner_started = @extschema@.cascade_delete_job_backend_start(),
        started = coalesce(t.started, now()), last_error = NULL, last_sqlstate = NULL, last_error_at = NULL
    WHERE t.job = j.job;
    -- First chunk: as many keys as chunk_rows at the plan's rows per key.
    SELECT greatest(1, least(100000, j.chunk_rows::double precision * k.n / greatest(r.rows, 1)))::integer
    INTO max_keys
    FROM (SELECT sum(coalesce(jk.n, array_length(jk.keys, 1))) AS n FROM @extschema@.cascade_delete_job_key jk
          WHERE jk.job = j.job) k,
         (SELECT sum(jt.planned_deleted + jt.planned_updated - jt.deleted - jt.updated) AS rows
          FROM @extschema@.cascade_delete_job_table jt WHERE jt.job = j.job) r;
    RETURN jsonb_build_object('done', false, 'max_keys', coalesce(max_keys, 1), 'wait', 0, 'failures', 0);
END $$;

-- The next keys of a job (internal to its chunk): at most max_keys keys (at
-- least one) of one table, children's tables first and within a table the
-- last collected first (a self-reference's leaves before their parents),
-- taken off the job (whole pages, or the tail of one page), as the text of
-- the array cascade_delete_many() reads. Only pages of the job's owner. The
-- scans must follow the index's order whatever the statistics of a fresh key
-- table say, and rows are found again by ctid (a TID scan).
CREATE FUNCTION @extschema@.cascade_delete_job_take_keys(job_id bigint, job_owner regrole, max_keys integer,
    OUT table_name regclass, OUT keys integer, OUT key_list text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off AS $$
DECLARE
    next_order integer;
    first_page tid;
    page text[];
    page_keys integer;
BEGIN
    SELECT k.table_name, k.delete_order, k.ctid, k.n INTO table_name, next_order, first_page, page_keys
    FROM @extschema@.cascade_delete_job_key k
    WHERE k.job = job_id ORDER BY k.delete_order, k.id DESC LIMIT 1;
    IF NOT FOUND THEN
        keys := 0;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.cascade_delete_job_key k WHERE k.job = job_id AND k.owner <> job_owner) THEN
        RAISE EXCEPTION 'cascade_delete job % has keys of another role', job_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF page_keys IS NULL OR page_keys > max_keys THEN
        SELECT k.keys INTO page FROM @extschema@.cascade_delete_job_key k WHERE k.ctid = first_page;
        page_keys := array_length(page, 1);
    END IF;
    IF page_keys > max_keys THEN
        -- the page's last max_keys keys; the rest stays
        UPDATE @extschema@.cascade_delete_job_key k SET keys = k.keys[1:page_keys - max_keys], n = page_keys - max_keys
        WHERE k.ctid = first_page;
        keys := max_keys;
        key_list := page[page_keys - max_keys + 1:page_keys]::text;
        RETURN;
    END IF;
    -- whole pages while they fit in max_keys
    WITH pages AS (
        SELECT t.ctid AS page_ctid,
               sum(coalesce(t.n, array_length(t.keys, 1))) OVER (ORDER BY t.delete_order, t.id DESC) AS upto
        FROM @extschema@.cascade_delete_job_key t
        WHERE t.job = job_id AND t.delete_order = next_order AND t.table_name = cascade_delete_job_take_keys.table_name
        ORDER BY t.delete_order, t.id DESC
        LIMIT max_keys / @extschema@.cascade_delete_job_page_size() + 2),
    taken AS (
        DELETE FROM @extschema@.cascade_delete_job_key k
        WHERE k.ctid = ANY (ARRAY(SELECT p.page_ctid FROM pages p WHERE p.upto <= max_keys))
        RETURNING k.keys)
    -- each page's text without its outer braces, joined: one array of all keys
    SELECT sum(array_length(t.keys, 1)), '{' || string_agg(substr(t.k, 2, length(t.k) - 2), ',') || '}'
    INTO keys, key_list FROM (SELECT taken.keys, taken.keys::text AS k FROM taken) t;
END $$;

-- One chunk, by this backend as the job's runner: the next keys, deleted as
-- the job's owner (cascade_delete_job_delete_as), with every row below them,
-- those inserted since the plan included; the counts committed with the
-- rows. Returns the runner's next step (done: finished, paused or cancelled).
CREATE FUNCTION @extschema@.cascade_delete_job_w_chunk(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- not locked: a pause or cancel meanwhile need not wait for the chunk
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, false);
    max_keys integer := (args ->> 'max_keys')::integer;
    next_table regclass;
    keys integer;
    key_list text;
    report jsonb;
    started_at timestamptz;
    seconds double precision;
    rows bigint;
    wait double precision;
BEGIN
    IF j.state <> 'running' OR j.runner_pid IS DISTINCT FROM pg_backend_pid() THEN
        -- paused or cancelled meanwhile
        PERFORM @extschema@.cascade_delete_job_stop_running(j);
        RETURN jsonb_build_object('done', true);
    END IF;
    IF j.graph IS DISTINCT FROM md5(@extschema@.cascade_delete_graph(j.target)) THEN
        RAISE EXCEPTION 'the foreign keys or policies of the tables of cascade_delete job % changed since it was planned', j.job
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The job deletes the rows its plan found, through the graph of that plan.',
                  HINT = format('Cancel it (cascade_delete_cancel(%s)) and start a new job.', j.job);
    END IF;
    SELECT t.table_name, t.keys, t.key_list INTO next_table, keys, key_list
    FROM @extschema@.cascade_delete_job_take_keys(j.job, j.owner, max_keys) t;
    IF keys = 0 THEN
        UPDATE @extschema@.cascade_delete_job t
        SET state = 'finished', finished = now(), runner_pid = NULL, runner_started = NULL
        WHERE t.job = j.job AND t.state = 'running';
        RETURN jsonb_build_object('done', true);
    END IF;
    PERFORM set_config('lock_timeout', (extract(epoch FROM j.lock_timeout) * 1000)::bigint::text, true);
    started_at := clock_timestamp();
    report := @extschema@.cascade_delete_job_delete_as(next_table, key_list, j.owner::oid, args ->> 'search_path');
    seconds := extract(epoch FROM clock_timestamp() - started_at);
    WITH counts AS MATERIALIZED (SELECT * FROM @extschema@.cascade_delete_job_counts(report)),
    counted AS (
        INSERT INTO @extschema@.cascade_delete_job_table AS jt (job, owner, table_name, deleted, updated)
        SELECT j.job, j.owner, c.table_name, c.deleted, c.updated FROM counts c
        ON CONFLICT ON CONSTRAINT cascade_delete_job_table_pkey DO UPDATE
        SET deleted = jt.deleted + excluded.deleted, updated = jt.updated + excluded.updated)
    SELECT coalesce(sum(c.deleted + c.updated), 0) INTO rows FROM counts c;
    UPDATE @extschema@.cascade_delete_job t SET chunks = t.chunks + 1, run_seconds = t.run_seconds + seconds
    WHERE t.job = j.job;
    -- The next chunk's keys: toward chunk_rows and chunk_time, at most twice as many.
    max_keys := greatest(1, least(max_keys * 2.0, 100000,
        max_keys * least(j.chunk_rows::double precision / greatest(rows, 1),
                         extract(epoch FROM j.chunk_time) / greatest(seconds, 0.001))))::integer;
    wait := extract(epoch FROM j.pause);
    IF j.rows_per_second IS NOT NULL THEN
        wait := greatest(wait, rows::double precision / j.rows_per_second - seconds);
    END IF;
    RETURN jsonb_build_object('done', false, 'max_keys', max_keys, 'wait', wait, 'failures', 0);
END $$;

-- A chunk failed with sqlstate: a lock timeout, deadlock or serialization
-- failure is retried (back off 0.1 s, doubling up to 60 s, then the same keys
-- again, fewer of them) until max_retries; anything else stops the runner and
-- is recorded (57014: paused, 23503: blocked, else failed). Returns the next
-- step (done: raise the error).
CREATE FUNCTION @extschema@.cascade_delete_job_w_failed(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, true);
    err_state text := args ->> 'sqlstate';
    failures integer := (args ->> 'failures')::integer;
BEGIN
    IF err_state IN ('55P03', '40P01', '40001') AND failures < j.max_retries AND j.state = 'running'
       AND j.runner_pid = pg_backend_pid() THEN
        UPDATE @extschema@.cascade_delete_job t
        SET retries = t.retries + 1, last_error = args ->> 'message', last_sqlstate = err_state, last_error_at = now()
        WHERE t.job = j.job;
        RETURN jsonb_build_object('done', false, 'failures', failures + 1,
                                  'max_keys', greatest(1, (args ->> 'max_keys')::integer / 2),
                                  'wait', least(60, 0.1 * 2 ^ failures));
    END IF;
    UPDATE @extschema@.cascade_delete_job t
    SET state = CASE WHEN t.state IN ('finished', 'cancelled') THEN t.state
                     WHEN err_state = '57014' THEN 'paused'  -- canceled or timed out: run again to resume
                     WHEN err_state = '23503' THEN 'blocked' ELSE 'failed' END,
        last_error = args ->> 'message', last_sqlstate = err_state, last_error_at = now()
    WHERE t.job = j.job;
    PERFORM @extschema@.cascade_delete_job_stop_running(j);
    RETURN jsonb_build_object('done', true);
END $$;

CREATE FUNCTION @extschema@.cascade_delete_job_w_pace(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, true);
    new_chunk_rows integer := (args ->> 'chunk_rows')::integer;
    new_chunk_time interval := (args ->> 'chunk_time')::interval;
    new_pause interval := (args ->> 'pause')::interval;
    new_lock_timeout interval := (args ->> 'lock_timeout')::interval;
    new_rows_per_second integer := (args ->> 'rows_per_second')::integer;
BEGIN
    -- rows_per_second 0 lifts the ceiling: checked as not given
    PERFORM @extschema@.cascade_delete_job_check_pace('cascade_delete_pace', new_chunk_rows, new_chunk_time,
                                                      new_pause, new_lock_timeout, nullif(new_rows_per_second, 0));
    UPDATE @extschema@.cascade_delete_job AS t
    SET chunk_rows = coalesce(new_chunk_rows, t.chunk_rows),
        chunk_time = coalesce(new_chunk_time, t.chunk_time),
        pause = coalesce(new_pause, t.pause),
        lock_timeout = coalesce(new_lock_timeout, t.lock_timeout),
        rows_per_second = CASE WHEN new_rows_per_second = 0 THEN NULL
                               ELSE coalesce(new_rows_per_second, t.rows_per_second) END
    WHERE t.job = j.job;
    RETURN NULL;
END $$;

CREATE FUNCTION @extschema@.cascade_delete_job_w_pause(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, true);
BEGIN
    IF j.state IN ('finished', 'cancelled') THEN
        RAISE EXCEPTION 'cascade_delete job % is %', j.job, j.state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.cascade_delete_job t SET state = 'paused' WHERE t.job = j.job;
    RETURN NULL;
END $$;

-- Cancels (again: a cancelled job's keys that its dead runner held go too).
CREATE FUNCTION @extschema@.cascade_delete_job_w_cancel(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, true);
BEGIN
    IF j.state = 'finished' THEN
        RAISE EXCEPTION 'cascade_delete job % is finished', j.job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.cascade_delete_job t SET state = 'cancelled', finished = coalesce(t.finished, now())
    WHERE t.job = j.job;
    -- The keys go now unless a runner holds them (it removes them when it
    -- sees the cancel).
    IF NOT @extschema@.cascade_delete_job_has_runner(j) THEN
        DELETE FROM @extschema@.cascade_delete_job_key k WHERE k.job = j.job;
    END IF;
    RETURN NULL;
END $$;

-- Removes a job that no runner runs, with its keys and counts.
CREATE FUNCTION @extschema@.cascade_delete_job_w_forget(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, true);
BEGIN
    IF @extschema@.cascade_delete_job_has_runner(j) THEN
        RAISE EXCEPTION 'cascade_delete job % is being run', j.job
            USING ERRCODE = 'object_in_use', HINT = 'Pause or cancel it first.';
    END IF;
    DELETE FROM @extschema@.cascade_delete_job t WHERE t.job = j.job;
    RETURN NULL;
END $$;

-- A background runner for the job, connected as its owner.
CREATE FUNCTION @extschema@.cascade_delete_job_w_background(caller oid, job bigint, args jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_for(caller, job, false);
BEGIN
    IF j.state IN ('finished', 'cancelled') THEN
        RAISE EXCEPTION 'cascade_delete job % is %', j.job, j.state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT (SELECT r.rolcanlogin FROM pg_roles r WHERE r.oid = j.owner::oid) THEN
        RAISE EXCEPTION 'role % cannot log in, so no background worker can connect as it', j.owner
            USING ERRCODE = 'insufficient_privilege', HINT = format('Run it with CALL cascade_delete_run(%s).', j.job);
    END IF;
    RETURN to_jsonb(@extschema@.cascade_delete_job_start_worker_as(j.job, j.owner::oid));
END $$;

DO $$
DECLARE f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['create', 'planned', 'begin', 'chunk', 'failed', 'pace', 'pause', 'cancel', 'forget',
                             'background'] LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION @extschema@.%I(oid, bigint, jsonb) FROM PUBLIC',
                                  'cascade_delete_job_w_' OPERATOR(pg_catalog.||) f);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION @extschema@.cascade_delete_job_for(oid, bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.cascade_delete_job_stop_running(@extschema@.cascade_delete_job) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.cascade_delete_job_take_keys(bigint, regrole, integer) FROM PUBLIC;

-- Called only by the writers (as the extension's owner): they run a chunk,
-- or connect a worker, as a role given by OID.
CREATE FUNCTION @extschema@.cascade_delete_job_delete_as(target regclass, keys text, owner oid, search_path text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'cascade_delete_job_delete_as'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION @extschema@.cascade_delete_job_delete_as(regclass, text, oid, text) FROM PUBLIC;
CREATE FUNCTION @extschema@.cascade_delete_job_start_worker_as(job bigint, owner oid)
RETURNS integer AS 'MODULE_PATHNAME', 'cascade_delete_job_start_worker_as'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION @extschema@.cascade_delete_job_start_worker_as(bigint, oid) FROM PUBLIC;

-- ---- What 0.5.0 wrote the job tables with, as the caller.

DROP FUNCTION @extschema@.cascade_delete_job_chunk(@extschema@.cascade_delete_job, integer);
DROP FUNCTION @extschema@.cascade_delete_job_take(bigint, integer);
DROP FUNCTION @extschema@.cascade_delete_job_delete(regclass, text);
DROP FUNCTION @extschema@.cascade_delete_job_start_worker(bigint);
DROP FUNCTION @extschema@.cascade_delete_job_get(bigint, text);

-- ---- Starting a job: the API's internal steps, through the writers.

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_job_create(target regclass, roots text, chunk_rows integer,
    chunk_time interval, pause interval, lock_timeout interval, rows_per_second integer)
RETURNS bigint LANGUAGE sql SET search_path = pg_catalog, pg_temp
RETURN (@extschema@.cascade_delete_job_write('create', NULL,
            jsonb_build_object('target', target::oid, 'roots', roots, 'chunk_rows', chunk_rows,
                               'chunk_time', chunk_time, 'pause', pause, 'lock_timeout', lock_timeout,
                               'rows_per_second', rows_per_second)))::bigint;

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_job_planned(id bigint, report jsonb)
RETURNS bigint LANGUAGE sql SET search_path = pg_catalog, pg_temp
RETURN (@extschema@.cascade_delete_job_write('planned', id, report))::bigint;

-- The start functions call only the extension's own functions on their
-- arguments; they do not pin search_path, since the plan evaluates the
-- caller's condition (cascade_delete_start_where) under the caller's.
CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_start_where(target regclass, condition text,
    chunk_rows integer DEFAULT 50000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
    lock_timeout interval DEFAULT '1 second', rows_per_second integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    id bigint := @extschema@.cascade_delete_job_create(target, pg_catalog.concat('WHERE ', condition), chunk_rows,
                                                        chunk_time, pause, lock_timeout, rows_per_second);
BEGIN
    RETURN @extschema@.cascade_delete_job_planned(id, @extschema@.cascade_delete_job_plan_where(target, condition, id));
END $$;

-- ---- Running a job: a procedure that commits cannot pin search_path (SET
-- forbids transaction control), so it holds no operator: every decision is
-- made by the step functions, which do pin it.

CREATE TYPE @extschema@.cascade_delete_job_step AS (
    job bigint, done boolean, max_keys integer, wait double precision, failures integer);

CREATE FUNCTION @extschema@.cascade_delete_job_step_of(job bigint, step jsonb)
RETURNS @extschema@.cascade_delete_job_step LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
RETURN ROW(job, (step ->> 'done')::boolean, (step ->> 'max_keys')::integer, (step ->> 'wait')::double precision,
           (step ->> 'failures')::integer)::@extschema@.cascade_delete_job_step;

CREATE FUNCTION @extschema@.cascade_delete_job_run_begin(job bigint)
RETURNS @extschema@.cascade_delete_job_step LANGUAGE sql SET search_path = pg_catalog, pg_temp
RETURN @extschema@.cascade_delete_job_step_of(job, @extschema@.cascade_delete_job_write('begin', job, NULL));

-- One chunk, after the step's wait. The chunk's statements are the
-- extension's own, but the triggers they fire run, as under PostgreSQL's own
-- cascade, with the session's search_path (session_path: the runner's).
CREATE FUNCTION @extschema@.cascade_delete_job_run_chunk(step @extschema@.cascade_delete_job_step,
    session_path text)
RETURNS @extschema@.cascade_delete_job_step LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF step.wait > 0 THEN
        PERFORM pg_sleep(step.wait);
    END IF;
    RETURN @extschema@.cascade_delete_job_step_of(step.job,
        @extschema@.cascade_delete_job_write('chunk', step.job,
            jsonb_build_object('max_keys', step.max_keys, 'search_path', session_path)));
END $$;

CREATE FUNCTION @extschema@.cascade_delete_job_run_failed(step @extschema@.cascade_delete_job_step,
    err_state text, message text)
RETURNS @extschema@.cascade_delete_job_step LANGUAGE sql SET search_path = pg_catalog, pg_temp
RETURN @extschema@.cascade_delete_job_step_of(step.job,
    @extschema@.cascade_delete_job_write('failed', step.job,
        jsonb_build_object('sqlstate', err_state, 'message', message, 'failures', step.failures,
                           'max_keys', step.max_keys)));

-- Raises an error again, with its own SQLSTATE, detail and hint.
CREATE FUNCTION @extschema@.cascade_delete_job_raise(err_state text, message text, detail text, hint text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF detail <> '' AND hint <> '' THEN
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = message, DETAIL = detail, HINT = hint;
    ELSIF detail <> '' THEN
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = message, DETAIL = detail;
    ELSIF hint <> '' THEN
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = message, HINT = hint;
    ELSE
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = message;
    END IF;
END $$;

-- The runner: chunk after chunk, each committed, until the job is done,
-- paused or cancelled (by another session), or an error stops it. Each
-- chunk runs as the job's owner, restricted, whoever runs the job. Errors
-- are recorded on the job and raised again with their own SQLSTATE; a lock
-- timeout, deadlock or serialization failure is retried with back-off. One
-- runner per job (its backend, recorded on the job). Everything a turn of
-- the loop does but its COMMIT is inside the exception block, so that an
-- error or a cancel anywhere is recorded.
CREATE OR REPLACE PROCEDURE @extschema@.cascade_delete_run(job bigint)
LANGUAGE plpgsql AS $$
DECLARE
    step @extschema@.cascade_delete_job_step;
    session_path constant text := pg_catalog.current_setting('search_path');
    failed boolean;
    err_state text;
    err_message text;
    err_detail text;
    err_hint text;
BEGIN
    PERFORM @extschema@.cascade_delete_job_refuse_in_block();
    -- Fails here, before anything is held, where COMMIT cannot commit (a CALL
    -- from a function).
    COMMIT;
    step := @extschema@.cascade_delete_job_run_begin(job);
    COMMIT;
    WHILE NOT step.done LOOP
        failed := false;
        BEGIN
            step := @extschema@.cascade_delete_job_run_chunk(step, session_path);
        EXCEPTION
            WHEN query_canceled OR OTHERS THEN
                GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                        err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
                step := @extschema@.cascade_delete_job_run_failed(step, err_state, err_message);
                failed := step.done;
        END;
        COMMIT;
        IF failed THEN
            PERFORM @extschema@.cascade_delete_job_raise(err_state, err_message, err_detail, err_hint);
        END IF;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_run_in_background(job bigint)
RETURNS integer LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
RETURN (@extschema@.cascade_delete_job_write('background', job, NULL))::integer;
COMMENT ON FUNCTION @extschema@.cascade_delete_run_in_background(bigint) IS
    'Runs a chunked job of cascade_delete in a background worker connected as the job''s owner; returns its process id';

-- ---- Pace, pause, cancel, resume, forget

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_pace(job bigint, chunk_rows integer DEFAULT NULL,
    chunk_time interval DEFAULT NULL, pause interval DEFAULT NULL, lock_timeout interval DEFAULT NULL,
    rows_per_second integer DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT @extschema@.cascade_delete_job_write('pace', job,
        jsonb_build_object('chunk_rows', chunk_rows, 'chunk_time', chunk_time, 'pause', pause,
                           'lock_timeout', lock_timeout, 'rows_per_second', rows_per_second));
END;

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_pause(job bigint)
RETURNS void LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT @extschema@.cascade_delete_job_write('pause', job, NULL);
END;

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_cancel(job bigint)
RETURNS void LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT @extschema@.cascade_delete_job_write('cancel', job, NULL);
END;

CREATE FUNCTION @extschema@.cascade_delete_forget(job bigint)
RETURNS void LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT @extschema@.cascade_delete_job_write('forget', job, NULL);
END;
COMMENT ON FUNCTION @extschema@.cascade_delete_forget(bigint) IS
    'Removes a chunked job that no runner runs (finished, cancelled, or any other), with its keys and counts';

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_resume_jobs()
RETURNS TABLE (job bigint, pid integer) LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT j.job AS id, j.runner_pid FROM @extschema@.cascade_delete_jobs j
             WHERE j.state = 'running' AND NOT j.runner_alive ORDER BY j.job LOOP
        -- said, not done silently: an administrator may have terminated it to stop it
        RAISE NOTICE 'cascade_delete job %: its runner (process %) ended without stopping it; starting a new one',
            r.id, r.runner_pid
            USING HINT = 'A runner stops a job for good only through cascade_delete_pause or cascade_delete_cancel.';
        job := r.id;
        BEGIN
            pid := (@extschema@.cascade_delete_job_write('background', r.id, NULL))::integer;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'cascade_delete job %: %', r.id, SQLERRM;
            pid := NULL;
        END;
        RETURN NEXT;
    END LOOP;
    -- cancelled jobs whose runner died holding their keys
    PERFORM @extschema@.cascade_delete_job_write('cancel', j.job, NULL)
    FROM @extschema@.cascade_delete_jobs j
    WHERE j.state = 'cancelled' AND NOT j.runner_alive
      AND EXISTS (SELECT 1 FROM @extschema@.cascade_delete_job_key k WHERE k.job = j.job);
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_resume_jobs() IS
    'Starts a background runner for each of the caller''s interrupted jobs (running, but no runner alive), saying so; returns them';

-- ---- Progress: a runner is alive when its backend is.

CREATE OR REPLACE VIEW @extschema@.cascade_delete_jobs WITH (security_invoker = true) AS
SELECT j.job, j.owner, j.target, j.roots, j.state,
       coalesce(t.planned, 0) AS planned_rows,
       coalesce(t.done, 0) AS done_rows,
       CASE WHEN j.run_seconds > 0 THEN round(coalesce(t.done, 0) / j.run_seconds)::bigint END AS rows_per_second,
       CASE WHEN j.state IN ('finished', 'cancelled') THEN interval '0'
            WHEN coalesce(t.done, 0) > 0
            THEN make_interval(secs => round((j.run_seconds * greatest(t.planned - t.done, 0) / t.done)::numeric, 1)::double precision)
       END AS time_left,
       @extschema@.cascade_delete_job_has_runner(j) AS runner_alive,
       j.runner_pid, j.chunks, j.retries, j.last_error, j.last_sqlstate, j.last_error_at,
       j.created, j.started, j.finished,
       j.chunk_rows, j.chunk_time, j.pause, j.lock_timeout, j.rows_per_second AS max_rows_per_second,
       coalesce(t.estimated, false) AS planned_estimated
FROM @extschema@.cascade_delete_job j
LEFT JOIN LATERAL (SELECT sum(planned_deleted + planned_updated) AS planned, sum(deleted + updated) AS done,
                          bool_or(planned_estimated) AS estimated
                   FROM @extschema@.cascade_delete_job_table jt WHERE jt.job = j.job) t ON true;

-- ---- search_path pinned on the functions that had none (and evaluate no
-- SQL of the caller's).

ALTER FUNCTION @extschema@.cascade_delete_job_page_size() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.cascade_delete_start(regclass, anyelement, integer, interval, interval, interval, integer)
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.cascade_delete_start(regclass, text, integer, interval, interval, interval, integer)
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.cascade_delete_start_many(regclass, anyarray, integer, interval, interval, interval, integer)
    SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.cascade_delete_start_many(regclass, text, integer, interval, interval, interval, integer)
    SET search_path = pg_catalog, pg_temp;
