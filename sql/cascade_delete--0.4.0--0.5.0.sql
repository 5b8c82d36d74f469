-- cascade_delete 0.4.0 -> 0.5.0: faster chunked jobs. The plan no longer
-- counts the rows of a leaf table below very many keys (a table with no keys
-- of its own, deleted with its parent's chunks): it estimates them from a
-- sample, marked planned_estimated; the chunks count exactly what they
-- delete. A chunk deletes such leaves after their parents, as PostgreSQL's
-- own cascade does (cascade_delete_job_delete), keeps up to a batch of keys
-- in memory, takes them from pages of 1,000 and records its counts in one
-- statement; so the default chunk grows from 10,000 rows to 50,000, where a
-- chunk's fixed costs weigh little.
\echo Use "ALTER EXTENSION cascade_delete UPDATE TO '0.5.0'" to load this file. \quit

ALTER TABLE @extschema@.cascade_delete_job_table
    ADD COLUMN planned_estimated boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN @extschema@.cascade_delete_job_table.planned_estimated IS
    'planned_deleted is the planner''s estimate (a leaf table below many keys), not a count';

-- The plan's counts per table (estimated: the tables the report names), and
-- the graph it followed.
CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_job_planned(id bigint, report jsonb)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO @extschema@.cascade_delete_job_table (job, table_name, planned_deleted, planned_updated, planned_estimated)
    SELECT id, c.table_name, c.deleted, c.updated,
           c.table_name IN (SELECT e::regclass FROM jsonb_array_elements_text(coalesce(report -> 'estimated', '[]')) e)
    FROM @extschema@.cascade_delete_job_counts(report) c;
    UPDATE @extschema@.cascade_delete_job j
    SET graph = md5(@extschema@.cascade_delete_graph(j.target))
    WHERE j.job = id;
    RETURN id;
END $$;

-- How many keys a page holds, so that taking pages reads no key (NULL for
-- pages written by 0.4.0: then counted from the keys).
ALTER TABLE @extschema@.cascade_delete_job_key ADD COLUMN n integer;

-- Keys per row of cascade_delete_job_key (jobs planned by 0.4.0 keep their
-- pages of 100).
CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_job_page_size() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 1000;

-- The next keys of a job (internal): at most max_keys keys (at least one)
-- of one table, children's tables first and within a table the last
-- collected first (a self-reference's leaves before their parents), taken
-- off the job (whole pages, or the tail of one page), as the text of the
-- array cascade_delete_many() reads. The scans must follow the index's order
-- whatever the statistics of a fresh key table say, and rows are found again
-- by ctid (a TID scan). Pages are counted by n, and each page's keys turned
-- into text once.
CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_job_take(job_id bigint, max_keys integer,
    OUT table_name regclass, OUT keys integer, OUT key_list text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off AS $$
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
    IF page_keys IS NULL OR page_keys > max_keys THEN
        SELECT k.keys INTO page FROM @extschema@.cascade_delete_job_key k WHERE k.ctid = first_page;
        page_keys := pg_catalog.array_length(page, 1);
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
               pg_catalog.sum(coalesce(t.n, pg_catalog.array_length(t.keys, 1)))
                   OVER (ORDER BY t.delete_order, t.id DESC) AS upto
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
           '{' || pg_catalog.string_agg(pg_catalog.substr(t.k, 2, pg_catalog.length(t.k) - 2), ',') || '}'
    INTO keys, key_list FROM (SELECT taken.keys, taken.keys::text AS k FROM taken) t;
END $$;

-- A chunk's delete (internal): cascade_delete_many(target, keys), but a leaf
-- table below the keys goes in a statement after them, READ COMMITTED, so
-- that rows inserted under them meanwhile go too, unchecked afterwards.
CREATE FUNCTION @extschema@.cascade_delete_job_delete(target regclass, keys text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'cascade_delete_job_delete'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- One chunk (internal; the runner's transaction): the next keys, deleted by
-- cascade_delete_job_delete(), which takes every row below them too, those
-- inserted since the plan included. The counts are committed with the rows. Returns
-- the keys taken (0: the job is done) and the rows deleted or updated.
CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_job_chunk(j @extschema@.cascade_delete_job, max_keys integer,
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
    report := @extschema@.cascade_delete_job_delete(next_table, key_list);
    WITH counts AS MATERIALIZED (SELECT * FROM @extschema@.cascade_delete_job_counts(report)),
    counted AS (
        INSERT INTO @extschema@.cascade_delete_job_table AS jt (job, owner, table_name, deleted, updated)
        SELECT j.job, j.owner, c.table_name, c.deleted, c.updated FROM counts c
        ON CONFLICT (job, table_name) DO UPDATE
        SET deleted = jt.deleted + excluded.deleted, updated = jt.updated + excluded.updated)
    SELECT coalesce(pg_catalog.sum(c.deleted + c.updated), 0) INTO rows FROM counts c;
END $$;

-- ---- Progress: whether a planned figure is an estimate.

CREATE OR REPLACE VIEW @extschema@.cascade_delete_jobs WITH (security_invoker = true) AS
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
       j.chunk_rows, j.chunk_time, j.pause, j.lock_timeout, j.rows_per_second AS max_rows_per_second,
       coalesce(t.estimated, false) AS planned_estimated
FROM @extschema@.cascade_delete_job j
LEFT JOIN LATERAL (SELECT sum(planned_deleted + planned_updated) AS planned, sum(deleted + updated) AS done,
                          bool_or(planned_estimated) AS estimated
                   FROM @extschema@.cascade_delete_job_table jt WHERE jt.job = j.job) t ON true;

CREATE OR REPLACE VIEW @extschema@.cascade_delete_job_tables WITH (security_invoker = true) AS
SELECT job, table_name, planned_deleted, deleted, planned_updated, updated, planned_estimated
FROM @extschema@.cascade_delete_job_table;

-- ---- The default chunk: 50,000 rows (jobs started before keep theirs).

ALTER TABLE @extschema@.cascade_delete_job ALTER COLUMN chunk_rows SET DEFAULT 50000;

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_start(target regclass, key anyelement,
    chunk_rows integer DEFAULT 50000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
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

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_start(target regclass, key text,
    chunk_rows integer DEFAULT 50000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
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

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_start_many(target regclass, keys anyarray,
    chunk_rows integer DEFAULT 50000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
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

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_start_many(target regclass, keys text,
    chunk_rows integer DEFAULT 50000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
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

CREATE OR REPLACE FUNCTION @extschema@.cascade_delete_start_where(target regclass, condition text,
    chunk_rows integer DEFAULT 50000, chunk_time interval DEFAULT '1 second', pause interval DEFAULT '0',
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
