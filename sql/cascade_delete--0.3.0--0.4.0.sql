-- cascade_delete 0.3.0 -> 0.4.0: chunked jobs, for deletes too big for one
-- transaction. cascade_delete_start*() plans the cascade in the caller's
-- transaction (the same checks as the one-transaction call, over the whole
-- cascade) and records a job; CALL cascade_delete_run(job) deletes it in
-- chunks, each its own transaction and each a cascade_delete_many() over keys
-- of one table, children's tables first, so every commit leaves a consistent
-- database; cascade_delete_run_in_background() does the same in a background
-- worker. cascade_delete_jobs and cascade_delete_job_tables show progress.
\echo Use "ALTER EXTENSION cascade_delete UPDATE TO '0.4.0'" to load this file. \quit

-- ---- The job's state. Rows are visible and writable only to roles that are
-- (members of) the job's owner; superusers see all.

CREATE TABLE @extschema@.cascade_delete_job (
    job             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner           regrole NOT NULL DEFAULT current_user::regrole,
    target          regclass NOT NULL,
    roots           text NOT NULL,          -- the key(s) or condition, as given
    state           text NOT NULL DEFAULT 'planned'
                    CHECK (state IN ('planned', 'running', 'paused', 'blocked', 'failed',
                                     'cancelled', 'finished')),
    -- The graph the plan followed (md5 of cascade_delete_graph(target)): a
    -- chunk refuses to run on a changed one.
    graph           text NOT NULL DEFAULT '',
    -- Pace: rows per chunk and its target duration (the runner sizes chunks to
    -- meet both), a pause after each chunk, the lock_timeout of each chunk,
    -- and an optional ceiling on rows per second.
    chunk_rows      integer NOT NULL DEFAULT 10000 CHECK (chunk_rows > 0),
    chunk_time      interval NOT NULL DEFAULT '1 second' CHECK (chunk_time > '0'),
    pause           interval NOT NULL DEFAULT '0' CHECK (pause >= '0'),
    lock_timeout    interval NOT NULL DEFAULT '1 second' CHECK (lock_timeout > '0'),
    rows_per_second integer CHECK (rows_per_second > 0),
    max_retries     integer NOT NULL DEFAULT 10 CHECK (max_retries >= 0),
    chunks          bigint NOT NULL DEFAULT 0,
    retries         bigint NOT NULL DEFAULT 0,   -- chunks retried after a lock timeout, deadlock or serialization failure
    run_seconds     double precision NOT NULL DEFAULT 0, -- time spent in committed chunks
    runner_pid      integer,
    last_error      text,
    last_sqlstate   text,
    last_error_at   timestamptz,
    created         timestamptz NOT NULL DEFAULT now(),
    started         timestamptz,
    finished        timestamptz
);
COMMENT ON TABLE @extschema@.cascade_delete_job IS
    'Chunked jobs of cascade_delete (cascade_delete_start); read them through the view cascade_delete_jobs';

-- Per table: the rows the plan counted, and those the committed chunks deleted or updated.
CREATE TABLE @extschema@.cascade_delete_job_table (
    job             bigint NOT NULL REFERENCES @extschema@.cascade_delete_job ON DELETE CASCADE,
    owner           regrole NOT NULL DEFAULT current_user::regrole,
    table_name      regclass NOT NULL,
    planned_deleted bigint NOT NULL DEFAULT 0,
    planned_updated bigint NOT NULL DEFAULT 0,
    deleted         bigint NOT NULL DEFAULT 0,
    updated         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (job, table_name)
);
COMMENT ON TABLE @extschema@.cascade_delete_job_table IS
    'Per table of a chunked job: planned and committed rows; see cascade_delete_job_tables';

-- The keys a job deletes by (written by the plan, taken by the chunks): the
-- rows of every table the cascade keeps keys of, up to 100 keys a row (a
-- page), in collection order, as the text array cascade_delete_many() reads:
-- {k1,k2,...}, or {{a1,b1},{a2,b2},...} for a composite key. delete_order:
-- children's tables first. The index is in the order chunks take pages
-- (within a table, the last collected first). No foreign key to the job: a
-- trigger on the job table removes the keys of deleted jobs instead.
CREATE TABLE @extschema@.cascade_delete_job_key (
    job             bigint NOT NULL,
    owner           regrole NOT NULL DEFAULT current_user::regrole,
    delete_order    integer NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY (CACHE 1000),
    table_name      regclass NOT NULL,
    keys            text[] NOT NULL
);
-- Keys per row of cascade_delete_job_key (the plan writes pages of this many;
-- the runner takes whole pages, or the tail of one).
CREATE FUNCTION @extschema@.cascade_delete_job_page_size() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 100;
CREATE UNIQUE INDEX cascade_delete_job_key_next ON @extschema@.cascade_delete_job_key (job, delete_order, id DESC);

CREATE FUNCTION @extschema@.cascade_delete_job_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM @extschema@.cascade_delete_job_key k WHERE k.job IN (SELECT o.job FROM old_jobs o);
    RETURN NULL;
END $$;
CREATE TRIGGER cascade_delete_job_deleted AFTER DELETE ON @extschema@.cascade_delete_job
REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.cascade_delete_job_deleted();
COMMENT ON TABLE @extschema@.cascade_delete_job_key IS
    'Keys a chunked job has still to delete by (internal to cascade_delete_run)';

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cascade_delete_job', 'cascade_delete_job_table', 'cascade_delete_job_key'] LOOP
        EXECUTE format('ALTER TABLE @extschema@.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_only ON @extschema@.%I USING (pg_catalog.pg_has_role(owner, ''USAGE''))', t);
        IF t <> 'cascade_delete_job' THEN
            -- and rows written only for jobs of the same owner the writer can see
            EXECUTE format('CREATE POLICY own_jobs_only ON @extschema@.%I AS RESTRICTIVE FOR INSERT WITH CHECK '
                           '(EXISTS (SELECT 1 FROM @extschema@.cascade_delete_job j WHERE j.job = %I.job AND j.owner = %I.owner))', t, t, t);
        END IF;
        EXECUTE format('REVOKE ALL ON @extschema@.%I FROM PUBLIC', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.%I TO PUBLIC', t);
    END LOOP;
END $$;
GRANT USAGE ON SEQUENCE @extschema@.cascade_delete_job_job_seq, @extschema@.cascade_delete_job_key_id_seq TO PUBLIC;

-- ---- Progress

CREATE VIEW @extschema@.cascade_delete_jobs WITH (security_invoker = true) AS
SELECT j.job, j.owner, j.target, j.roots, j.state,
       coalesce(t.planned, 0) AS planned_rows,
       coalesce(t.done, 0) AS done_rows,
       CASE WHEN j.run_seconds > 0 THEN round(coalesce(t.done, 0) / j.run_seconds)::bigint END AS rows_per_second,
       CASE WHEN j.state IN ('finished', 'cancelled') THEN interval '0'
            WHEN coalesce(t.done, 0) > 0
            THEN make_interval(secs => round((j.run_seconds * greatest(t.planned - t.done, 0) / t.done)::numeric, 1)::double precision)
       END AS time_left,
       EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
                 AND l.classid = 1667525218::oid AND l.objid = j.job::oid AND l.objsubid = 2) AS runner_alive,
       j.runner_pid, j.chunks, j.retries, j.last_error, j.last_sqlstate, j.last_error_at,
       j.created, j.started, j.finished,
       j.chunk_rows, j.chunk_time, j.pause, j.lock_timeout, j.rows_per_second AS max_rows_per_second
FROM @extschema@.cascade_delete_job j
LEFT JOIN LATERAL (SELECT sum(planned_deleted + planned_updated) AS planned, sum(deleted + updated) AS done
                   FROM @extschema@.cascade_delete_job_table jt WHERE jt.job = j.job) t ON true;
COMMENT ON VIEW @extschema@.cascade_delete_jobs IS
    'Chunked jobs of cascade_delete: state, rows planned and done, rate, time left, whether a runner is alive, the last error';
GRANT SELECT ON @extschema@.cascade_delete_jobs TO PUBLIC;

CREATE VIEW @extschema@.cascade_delete_job_tables WITH (security_invoker = true) AS
SELECT job, table_name, planned_deleted, deleted, planned_updated, updated
FROM @extschema@.cascade_delete_job_table;
COMMENT ON VIEW @extschema@.cascade_delete_job_tables IS
    'Per table of each chunked job: rows planned and rows the committed chunks deleted or updated';
GRANT SELECT ON @extschema@.cascade_delete_job_tables TO PUBLIC;

-- ---- The plan (internal): the dry run, then the keys saved under the job.

CREATE FUNCTION @extschema@.cascade_delete_job_plan(target regclass, key anyelement, job bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'cascade_delete_job_plan_key'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.cascade_delete_job_plan_many(target regclass, keys anyarray, job bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'cascade_delete_job_plan_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.cascade_delete_job_plan_many(target regclass, keys text, job bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'cascade_delete_job_plan_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION @extschema@.cascade_delete_job_plan_where(target regclass, condition text, job bigint)
RETURNS jsonb AS 'MODULE_PATHNAME', 'cascade_delete_job_plan_where'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The bounds of a job's pace (NULL: not given), for its start and for
-- cascade_delete_pace; what: the function, for the message.
CREATE FUNCTION @extschema@.cascade_delete_job_check_pace(what text, chunk_rows integer, chunk_time interval,
    pause interval, lock_timeout interval, rows_per_second integer)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF chunk_rows <= 0 OR chunk_time <= '0' OR chunk_time > '1 day' OR pause < '0' OR pause > '1 day'
       OR lock_timeout < '1 ms' OR lock_timeout > '1 day' OR rows_per_second <= 0 THEN
        RAISE EXCEPTION '%: chunk_rows and rows_per_second must be positive, chunk_time up to 1 day, pause from 0 to 1 day, lock_timeout from 1 ms to 1 day', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;

-- A new job's row, with its pace checked.
CREATE FUNCTION @extschema@.cascade_delete_job_create(target regclass, roots text, chunk_rows integer,
    chunk_time interval, pause interval, lock_timeout interval, rows_per_second integer)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF roots IS NULL THEN
        RAISE EXCEPTION 'cascade_delete_start: the key, keys or condition must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF target IS NULL OR chunk_rows IS NULL OR chunk_time IS NULL OR pause IS NULL OR lock_timeout IS NULL THEN
        RAISE EXCEPTION 'cascade_delete_start: target, chunk_rows, chunk_time, pause and lock_timeout must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM @extschema@.cascade_delete_job_check_pace('cascade_delete_start', chunk_rows, chunk_time, pause,
                                                      lock_timeout, rows_per_second);
    IF pg_catalog.current_setting('transaction_read_only')::boolean THEN
        RAISE EXCEPTION 'cannot start a cascade_delete job in a read-only transaction'
            USING ERRCODE = 'read_only_sql_transaction';
    END IF;
    INSERT INTO @extschema@.cascade_delete_job (target, roots, chunk_rows, chunk_time, pause, lock_timeout, rows_per_second)
    VALUES (target, roots, chunk_rows, chunk_time, pause, lock_timeout, rows_per_second)
    RETURNING job INTO id;
    RETURN id;
END $$;

-- A report's rows per table (a plan's, a chunk's): deleted and updated.
CREATE FUNCTION @extschema@.cascade_delete_job_counts(report jsonb)
RETURNS TABLE (table_name regclass, deleted bigint, updated bigint)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT n.name::regclass, coalesce((report -> 'deleted' ->> n.name)::bigint, 0),
           coalesce((report -> 'updated' ->> n.name)::bigint, 0)
    FROM (SELECT jsonb_object_keys(report -> 'deleted') AS name
          UNION SELECT jsonb_object_keys(report -> 'updated')) n
$$;

-- The plan's counts per table, and the graph it followed.
CREATE FUNCTION @extschema@.cascade_delete_job_planned(id bigint, report jsonb)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO @extschema@.cascade_delete_job_table (job, table_name, planned_deleted, planned_updated)
    SELECT id, c.table_name, c.deleted, c.updated FROM @extschema@.cascade_delete_job_counts(report) c;
    UPDATE @extschema@.cascade_delete_job j
    SET graph = md5(@extschema@.cascade_delete_graph(j.target))
    WHERE j.job = id;
    RETURN id;
END $$;

-- ---- Starting a job: plan now, in the caller's transaction; delete later, in chunks.

CREATE FUNCTION @extschema@.cascade_delete_start(target regclass, key anyelement,
    chunk_rows integer DEFAULT 10000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
    lock_timeout interval DEFAULT '1 second', rows_per_second integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    id bigint := @extschema@.cascade_delete_job_create(target, key::text, chunk_rows, chunk_time, pause,
                                                        lock_timeout, rows_per_second);
BEGIN
    RETURN @extschema@.cascade_delete_job_planned(id, @extschema@.cascade_delete_job_plan(target, key, id));
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_start(regclass, anyelement, integer, interval, interval, interval, integer) IS
    'Plans cascade_delete(target, key) as a chunked job and returns its number; run it with CALL cascade_delete_run(job)';

CREATE FUNCTION @extschema@.cascade_delete_start(target regclass, key text,
    chunk_rows integer DEFAULT 10000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
    lock_timeout interval DEFAULT '1 second', rows_per_second integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    id bigint := @extschema@.cascade_delete_job_create(target, key, chunk_rows, chunk_time, pause,
                                                        lock_timeout, rows_per_second);
BEGIN
    RETURN @extschema@.cascade_delete_job_planned(id, @extschema@.cascade_delete_job_plan(target, key, id));
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_start(regclass, text, integer, interval, interval, interval, integer) IS
    'Plans cascade_delete(target, key) as a chunked job, the key given as text; returns its number';

CREATE FUNCTION @extschema@.cascade_delete_start_many(target regclass, keys anyarray,
    chunk_rows integer DEFAULT 10000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
    lock_timeout interval DEFAULT '1 second', rows_per_second integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    id bigint := @extschema@.cascade_delete_job_create(target, keys::text, chunk_rows, chunk_time, pause,
                                                        lock_timeout, rows_per_second);
BEGIN
    RETURN @extschema@.cascade_delete_job_planned(id, @extschema@.cascade_delete_job_plan_many(target, keys, id));
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_start_many(regclass, anyarray, integer, interval, interval, interval, integer) IS
    'Plans cascade_delete_many(target, keys) as a chunked job and returns its number';

CREATE FUNCTION @extschema@.cascade_delete_start_many(target regclass, keys text,
    chunk_rows integer DEFAULT 10000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
    lock_timeout interval DEFAULT '1 second', rows_per_second integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    id bigint := @extschema@.cascade_delete_job_create(target, keys, chunk_rows, chunk_time, pause,
                                                        lock_timeout, rows_per_second);
BEGIN
    RETURN @extschema@.cascade_delete_job_planned(id, @extschema@.cascade_delete_job_plan_many(target, keys, id));
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_start_many(regclass, text, integer, interval, interval, interval, integer) IS
    'Plans cascade_delete_many(target, keys) as a chunked job, the keys given as text; returns its number';

CREATE FUNCTION @extschema@.cascade_delete_start_where(target regclass, condition text,
    chunk_rows integer DEFAULT 10000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
    lock_timeout interval DEFAULT '1 second', rows_per_second integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    id bigint := @extschema@.cascade_delete_job_create(target, 'WHERE ' || condition, chunk_rows, chunk_time, pause,
                                                        lock_timeout, rows_per_second);
BEGIN
    RETURN @extschema@.cascade_delete_job_planned(id, @extschema@.cascade_delete_job_plan_where(target, condition, id));
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_start_where(regclass, text, integer, interval, interval, interval, integer) IS
    'Plans cascade_delete_where(target, condition) as a chunked job and returns its number; the rows are chosen now';


-- ---- Running a job

-- The next keys of a job (internal): at most max_keys keys (at least one)
-- of one table, children's tables first and within a table the last
-- collected first (a self-reference's leaves before their parents), taken
-- off the job (whole pages, or the tail of one page), as the text of the
-- array cascade_delete_many() reads. The scans must follow the index's order
-- whatever the statistics of a fresh key table say, and rows are found again
-- by ctid (a TID scan).
CREATE FUNCTION @extschema@.cascade_delete_job_take(job_id bigint, max_keys integer,
    OUT table_name regclass, OUT keys integer, OUT key_list text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off AS $$
DECLARE
    next_order integer;
    first_page tid;
    page text[];
    n integer;
BEGIN
    SELECT k.table_name, k.delete_order, k.ctid, k.keys INTO table_name, next_order, first_page, page
    FROM @extschema@.cascade_delete_job_key k
    WHERE k.job = job_id ORDER BY k.delete_order, k.id DESC LIMIT 1;
    IF NOT FOUND THEN
        keys := 0;
        RETURN;
    END IF;
    n := pg_catalog.array_length(page, 1);
    IF n > max_keys THEN
        -- the page's last max_keys keys; the rest stays
        UPDATE @extschema@.cascade_delete_job_key k SET keys = k.keys[1:n - max_keys] WHERE k.ctid = first_page;
        keys := max_keys;
        key_list := page[n - max_keys + 1:n]::text;
        RETURN;
    END IF;
    -- whole pages while they fit in max_keys
    WITH pages AS (
        SELECT t.ctid AS page_ctid,
               pg_catalog.sum(pg_catalog.array_length(t.keys, 1)) OVER (ORDER BY t.delete_order, t.id DESC) AS upto
        FROM @extschema@.cascade_delete_job_key t
        WHERE t.job = job_id AND t.delete_order = next_order AND t.table_name = cascade_delete_job_take.table_name
        ORDER BY t.delete_order, t.id DESC
        LIMIT max_keys / @extschema@.cascade_delete_job_page_size() + 2),
    taken AS (
        DELETE FROM @extschema@.cascade_delete_job_key k
        WHERE k.ctid = ANY (ARRAY(SELECT p.page_ctid FROM pages p WHERE p.upto <= max_keys))
        RETURNING k.keys)
    -- each page's text without its outer braces, joined: one array of all keys
    SELECT pg_catalog.sum(pg_catalog.array_length(t.keys, 1)),
           '{' || pg_catalog.string_agg(pg_catalog.substr(t.keys::text, 2, pg_catalog.length(t.keys::text) - 2), ',') || '}'
    INTO keys, key_list FROM taken t;
END $$;

-- One chunk (internal; the runner's transaction): the next keys, deleted by
-- cascade_delete_many(), which takes every row below them too, those inserted
-- since the plan included. The counts are committed with the rows. Returns
-- the keys taken (0: the job is done) and the rows deleted or updated.
CREATE FUNCTION @extschema@.cascade_delete_job_chunk(j @extschema@.cascade_delete_job, max_keys integer,
    OUT keys integer, OUT rows bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    next_table regclass;
    key_list text;
    report jsonb;
BEGIN
    IF j.graph IS DISTINCT FROM pg_catalog.md5(@extschema@.cascade_delete_graph(j.target)) THEN
        RAISE EXCEPTION 'the foreign keys or policies of the tables of cascade_delete job % changed since it was planned', j.job
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The job deletes the rows its plan found, through the graph of that plan.',
                  HINT = pg_catalog.format('Cancel it (cascade_delete_cancel(%s)) and start a new job.', j.job);
    END IF;
    SELECT t.table_name, t.keys, t.key_list INTO next_table, keys, key_list
    FROM @extschema@.cascade_delete_job_take(j.job, max_keys) t;
    rows := 0;
    IF keys = 0 THEN
        RETURN;
    END IF;
    report := @extschema@.cascade_delete_many(next_table, key_list);
    INSERT INTO @extschema@.cascade_delete_job_table AS jt (job, owner, table_name, deleted, updated)
    SELECT j.job, j.owner, c.table_name, c.deleted, c.updated FROM @extschema@.cascade_delete_job_counts(report) c
    ON CONFLICT (job, table_name) DO UPDATE
    SET deleted = jt.deleted + excluded.deleted, updated = jt.updated + excluded.updated;
    rows := (SELECT pg_catalog.sum(c.deleted + c.updated) FROM @extschema@.cascade_delete_job_counts(report) c);
END $$;

-- The runner: chunk after chunk, each committed, until the job is done,
-- paused or cancelled (by another session), or an error stops it. Each
-- chunk runs as the job's owner (SET LOCAL ROLE): whoever runs a job, it
-- deletes only what its owner may. Errors are recorded on the job and raised
-- again with their own SQLSTATE; a lock timeout, deadlock or serialization
-- failure is retried with back-off. One runner per job: a session advisory
-- lock (key 1667525218, the job), which dies with its backend, so a killed
-- runner's job can be run again at once. Everything a turn of the loop does
-- but its COMMIT is inside one exception block, so that an error or a cancel
-- anywhere is recorded and the lock released.
CREATE PROCEDURE @extschema@.cascade_delete_run(job bigint)
LANGUAGE plpgsql AS $$
DECLARE
    job_id constant bigint := job;
    lock_class constant integer := 1667525218;   -- 'cdjb'
    j @extschema@.cascade_delete_job;
    c record;
    max_keys integer;
    started_at timestamptz;
    seconds double precision;
    wait double precision := 0;
    failures integer := 0;
    done boolean := false;
    err_state text;
    err_message text;
    err_detail text;
    err_hint text;
BEGIN
    PERFORM @extschema@.cascade_delete_job_refuse_in_block();
    -- Fails here, before anything is held, where COMMIT cannot commit (a CALL
    -- from a function).
    COMMIT;
    j := @extschema@.cascade_delete_job_get(job_id, 'cascade_delete_run');
    IF j.state IN ('finished', 'cancelled') THEN
        RAISE NOTICE 'cascade_delete job % is %', job_id, j.state;
        RETURN;
    END IF;
    -- Held already if an earlier run of this session was interrupted between
    -- chunks: taken once, released once.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                   WHERE l.locktype = 'advisory' AND l.pid = pg_catalog.pg_backend_pid()
                     AND l.classid = lock_class::oid AND l.objid = job_id::oid AND l.objsubid = 2)
       AND NOT pg_catalog.pg_try_advisory_lock(lock_class, job_id::integer) THEN
        RAISE EXCEPTION 'cascade_delete job % is being run by another session', job_id
            USING ERRCODE = 'object_in_use',
                  DETAIL = pg_catalog.format('Its runner: process %s.', j.runner_pid);
    END IF;
    BEGIN
        -- Not over a cancel committed meanwhile (the row lock orders the two).
        UPDATE @extschema@.cascade_delete_job
        SET state = 'running', runner_pid = pg_catalog.pg_backend_pid(), started = coalesce(started, pg_catalog.now()),
            last_error = NULL, last_sqlstate = NULL, last_error_at = NULL
        WHERE cascade_delete_job.job = job_id AND state NOT IN ('finished', 'cancelled');
        -- First chunk: as many keys as chunk_rows at the plan's rows per key.
        SELECT greatest(1, least(100000, j.chunk_rows::double precision * k.n / greatest(t.rows, 1)))::integer
        INTO max_keys
        FROM (SELECT pg_catalog.sum(pg_catalog.array_length(keys, 1)) AS n FROM @extschema@.cascade_delete_job_key
              WHERE cascade_delete_job_key.job = job_id) k,
             (SELECT pg_catalog.sum(planned_deleted + planned_updated - deleted - updated) AS rows
              FROM @extschema@.cascade_delete_job_table WHERE cascade_delete_job_table.job = job_id) t;
        max_keys := coalesce(max_keys, 1);
    EXCEPTION WHEN query_canceled OR OTHERS THEN
        PERFORM pg_catalog.pg_advisory_unlock(lock_class, job_id::integer);
        RAISE;
    END;
    COMMIT;
    LOOP
        err_state := NULL;
        BEGIN
            IF wait > 0 THEN
                PERFORM pg_catalog.pg_sleep(wait);
            END IF;
            SELECT * INTO j FROM @extschema@.cascade_delete_job WHERE cascade_delete_job.job = job_id;
            IF NOT FOUND OR j.state <> 'running' THEN
                done := true;   -- paused, cancelled or deleted meanwhile
            ELSE
                PERFORM pg_catalog.set_config('lock_timeout',
                                              (extract(epoch FROM j.lock_timeout) * 1000)::bigint::text, true);
                -- A chunk's rows and the job's counters commit together: a
                -- crash that loses the last commits loses both, and the next
                -- run does them again. So no chunk waits for its WAL flush.
                PERFORM pg_catalog.set_config('synchronous_commit', 'off', true);
                PERFORM pg_catalog.set_config('role', j.owner::text, true);
                started_at := pg_catalog.clock_timestamp();
                c := @extschema@.cascade_delete_job_chunk(j, max_keys);
                seconds := extract(epoch FROM pg_catalog.clock_timestamp() - started_at);
                IF c.keys = 0 THEN
                    UPDATE @extschema@.cascade_delete_job
                    SET state = 'finished', finished = pg_catalog.now(), runner_pid = NULL
                    WHERE cascade_delete_job.job = job_id AND state = 'running';
                    done := true;
                ELSE
                    UPDATE @extschema@.cascade_delete_job
                    SET chunks = chunks + 1, run_seconds = run_seconds + seconds
                    WHERE cascade_delete_job.job = job_id;
                END IF;
                PERFORM pg_catalog.set_config('role', 'none', true);
            END IF;
        EXCEPTION
            WHEN query_canceled OR OTHERS THEN
                GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT,
                                        err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
        END;
        IF err_state IN ('55P03', '40P01', '40001') AND failures < j.max_retries THEN
            -- Waited behind a lock too long, lost a deadlock, or met a row
            -- changed since it was collected: back off (0.1 s, doubling up to
            -- 60 s), then the same keys again, fewer of them.
            failures := failures + 1;
            max_keys := greatest(1, max_keys / 2);
            wait := least(60, 0.1 * 2 ^ (failures - 1));
            UPDATE @extschema@.cascade_delete_job
            SET retries = retries + 1, last_error = err_message, last_sqlstate = err_state,
                last_error_at = pg_catalog.now()
            WHERE cascade_delete_job.job = job_id;
            COMMIT;
            CONTINUE;
        ELSIF err_state IS NOT NULL THEN
            UPDATE @extschema@.cascade_delete_job
            SET state = CASE WHEN err_state = '57014' THEN 'paused'  -- canceled or timed out: run again to resume
                             WHEN err_state = '23503' THEN 'blocked' ELSE 'failed' END,
                last_error = err_message, last_sqlstate = err_state, last_error_at = pg_catalog.now()
            WHERE cascade_delete_job.job = job_id AND state NOT IN ('finished', 'cancelled');
            COMMIT;
            PERFORM pg_catalog.pg_advisory_unlock(lock_class, job_id::integer);
            IF err_detail <> '' AND err_hint <> '' THEN
                RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_message, DETAIL = err_detail, HINT = err_hint;
            ELSIF err_detail <> '' THEN
                RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_message, DETAIL = err_detail;
            ELSIF err_hint <> '' THEN
                RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_message, HINT = err_hint;
            ELSE
                RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_message;
            END IF;
        END IF;
        failures := 0;
        IF done THEN
            -- A cancel made while this runner held the keys leaves them to it.
            IF j.state = 'cancelled' THEN
                DELETE FROM @extschema@.cascade_delete_job_key WHERE cascade_delete_job_key.job = job_id;
            END IF;
            COMMIT;
            EXIT;
        END IF;
        COMMIT;
        -- The next chunk's keys: toward chunk_rows and chunk_time, at most twice as many.
        max_keys := greatest(1, least(max_keys * 2.0, 100000,
            max_keys * least(j.chunk_rows::double precision / greatest(c.rows, 1),
                             extract(epoch FROM j.chunk_time) / greatest(seconds, 0.001))))::integer;
        wait := extract(epoch FROM j.pause);
        IF j.rows_per_second IS NOT NULL THEN
            wait := greatest(wait, c.rows::double precision / j.rows_per_second - seconds);
        END IF;
    END LOOP;
    PERFORM pg_catalog.pg_advisory_unlock(lock_class, job_id::integer);
END $$;
COMMENT ON PROCEDURE @extschema@.cascade_delete_run(bigint) IS
    'Runs (or resumes) a chunked job of cascade_delete: one transaction per chunk, until it is done, paused or cancelled';

CREATE FUNCTION @extschema@.cascade_delete_job_refuse_in_block()
RETURNS void AS 'MODULE_PATHNAME', 'cascade_delete_job_refuse_in_block'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION @extschema@.cascade_delete_job_start_worker(job bigint)
RETURNS integer AS 'MODULE_PATHNAME', 'cascade_delete_job_start_worker'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- The job's row for a control function: it must exist and be the caller's.
CREATE FUNCTION @extschema@.cascade_delete_job_get(id bigint, what text)
RETURNS @extschema@.cascade_delete_job LANGUAGE plpgsql AS $$
DECLARE
    j @extschema@.cascade_delete_job;
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION '%: job must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO j FROM @extschema@.cascade_delete_job WHERE job = id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'cascade_delete job % does not exist', id
            USING ERRCODE = 'undefined_object', HINT = 'Jobs are visible to their owner only: see cascade_delete_jobs.';
    END IF;
    RETURN j;
END $$;

CREATE FUNCTION @extschema@.cascade_delete_run_in_background(job bigint)
RETURNS integer LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_get(job, 'cascade_delete_run_in_background');
BEGIN
    IF j.state IN ('finished', 'cancelled') THEN
        RAISE EXCEPTION 'cascade_delete job % is %', j.job, j.state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT (SELECT r.rolcanlogin FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'role "%" cannot log in, so no background worker can connect as it', current_user
            USING ERRCODE = 'insufficient_privilege', HINT = pg_catalog.format('Run it with CALL cascade_delete_run(%s).', j.job);
    END IF;
    RETURN @extschema@.cascade_delete_job_start_worker(j.job);
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_run_in_background(bigint) IS
    'Runs a chunked job of cascade_delete in a background worker connected as the caller; returns its process id';

-- ---- Pace, pause, cancel, resume

CREATE FUNCTION @extschema@.cascade_delete_pace(job bigint, chunk_rows integer DEFAULT NULL,
    chunk_time interval DEFAULT NULL, pause interval DEFAULT NULL, lock_timeout interval DEFAULT NULL,
    rows_per_second integer DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_get(job, 'cascade_delete_pace');
BEGIN
    -- rows_per_second 0 lifts the ceiling: checked as not given
    PERFORM @extschema@.cascade_delete_job_check_pace('cascade_delete_pace', cascade_delete_pace.chunk_rows,
        cascade_delete_pace.chunk_time, cascade_delete_pace.pause, cascade_delete_pace.lock_timeout,
        nullif(cascade_delete_pace.rows_per_second, 0));
    UPDATE @extschema@.cascade_delete_job AS t
    SET chunk_rows = coalesce(cascade_delete_pace.chunk_rows, t.chunk_rows),
        chunk_time = coalesce(cascade_delete_pace.chunk_time, t.chunk_time),
        pause = coalesce(cascade_delete_pace.pause, t.pause),
        lock_timeout = coalesce(cascade_delete_pace.lock_timeout, t.lock_timeout),
        rows_per_second = CASE WHEN cascade_delete_pace.rows_per_second = 0 THEN NULL
                               ELSE coalesce(cascade_delete_pace.rows_per_second, t.rows_per_second) END
    WHERE t.job = j.job;
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_pace(bigint, integer, interval, interval, interval, integer) IS
    'Changes the pace of a chunked job; a running job takes it from its next chunk (NULL: unchanged; rows_per_second 0: no ceiling)';

CREATE FUNCTION @extschema@.cascade_delete_pause(job bigint)
RETURNS void LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_get(job, 'cascade_delete_pause');
BEGIN
    IF j.state IN ('finished', 'cancelled') THEN
        RAISE EXCEPTION 'cascade_delete job % is %', j.job, j.state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.cascade_delete_job SET state = 'paused' WHERE cascade_delete_job.job = j.job;
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_pause(bigint) IS
    'Pauses a chunked job: its runner stops after the chunk it is in; cascade_delete_run resumes it';

CREATE FUNCTION @extschema@.cascade_delete_cancel(job bigint)
RETURNS void LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
    j @extschema@.cascade_delete_job := @extschema@.cascade_delete_job_get(job, 'cascade_delete_cancel');
BEGIN
    IF j.state = 'finished' THEN
        RAISE EXCEPTION 'cascade_delete job % is finished', j.job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.cascade_delete_job SET state = 'cancelled', finished = pg_catalog.now()
    WHERE cascade_delete_job.job = j.job;
    -- The keys go now unless a runner holds them (it removes them when it
    -- sees the cancel): waiting for its chunk here would deadlock with it.
    IF pg_catalog.pg_try_advisory_xact_lock(1667525218, j.job::integer) THEN
        DELETE FROM @extschema@.cascade_delete_job_key WHERE cascade_delete_job_key.job = j.job;
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_cancel(bigint) IS
    'Cancels a chunked job: its runner stops after the chunk it is in; what committed chunks deleted stays deleted';

CREATE FUNCTION @extschema@.cascade_delete_resume_jobs()
RETURNS TABLE (job bigint, pid integer) LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
BEGIN
    RETURN QUERY
    SELECT j.job, @extschema@.cascade_delete_job_start_worker(j.job)
    FROM @extschema@.cascade_delete_jobs j
    WHERE j.state = 'running' AND NOT j.runner_alive
    ORDER BY j.job;
END $$;
COMMENT ON FUNCTION @extschema@.cascade_delete_resume_jobs() IS
    'Starts a background runner for each of the caller''s interrupted jobs (running, but no runner alive); returns them';
