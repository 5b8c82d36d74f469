-- Chunked jobs: cascade_delete_start* plans, CALL cascade_delete_run deletes in
-- chunks (each its own transaction), the views show progress. Failures under
-- load (kill -9, restarts, cancels, concurrent writers) are in test/jobs.
\set SHOW_CONTEXT never
CREATE SCHEMA jb;
SET search_path = jb, public;
CREATE TABLE customer (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer ON DELETE CASCADE);
CREATE TABLE line (id int PRIMARY KEY, order_id int NOT NULL REFERENCES orders ON DELETE CASCADE);
CREATE TABLE note (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE SET NULL);
CREATE TABLE invoice (id int PRIMARY KEY, customer_id int);
SELECT cascade_delete_set_policy('invoice', '{customer_id}', 'PROTECT', parent => 'customer');
CREATE TABLE emp (id int PRIMARY KEY, boss int REFERENCES emp ON DELETE CASCADE);
CREATE TABLE cell (x int, y text, PRIMARY KEY (x, y));
CREATE TABLE mark (id int PRIMARY KEY, x int, y text, FOREIGN KEY (x, y) REFERENCES cell ON DELETE CASCADE);
CREATE TABLE shelf (id int PRIMARY KEY);
CREATE TABLE nopk (id int UNIQUE, shelf_id int REFERENCES shelf ON DELETE CASCADE);
CREATE TABLE nopk_child (id int PRIMARY KEY, nopk_id int REFERENCES nopk (id) ON DELETE CASCADE);
INSERT INTO customer VALUES (1, 'ann'), (2, 'bob'), (3, 'cy'), (4, 'di');
INSERT INTO orders SELECT g, 1 + g % 3 FROM generate_series(10, 39) g;
INSERT INTO line SELECT g, 10 + g % 30 FROM generate_series(100, 399) g;
INSERT INTO note SELECT g, 10 + g % 30 FROM generate_series(1, 30) g;
INSERT INTO invoice VALUES (1, 3);
INSERT INTO emp VALUES (1, NULL);
INSERT INTO emp SELECT g, g / 2 FROM generate_series(2, 40) g;
INSERT INTO cell SELECT g, 'y' || g FROM generate_series(1, 5) g;
INSERT INTO mark SELECT g, 1 + g % 5, 'y' || (1 + g % 5) FROM generate_series(1, 20) g;
INSERT INTO shelf VALUES (1);
INSERT INTO nopk VALUES (1, 1);
-- Triggers see each chunk's rows, as they see the one-transaction call's.
CREATE TABLE fired (tbl text, n int);
CREATE FUNCTION count_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE fired SET n = n + 1 WHERE tbl = TG_TABLE_NAME; RETURN OLD; END $$;
INSERT INTO fired VALUES ('line', 0), ('note', 0);
CREATE TRIGGER line_count AFTER DELETE ON line FOR EACH ROW EXECUTE FUNCTION count_row();
CREATE TRIGGER note_count AFTER UPDATE ON note FOR EACH ROW EXECUTE FUNCTION count_row();

-- The plan: the dry run's counts per table, the keys of every table with keys
-- of its own (lines are leaves reached by one key: deleted with their orders).
SELECT cascade_delete_start('customer', 1, chunk_rows => 25) AS job \gset
SELECT :job AS job;
SELECT target, roots, state, planned_rows, done_rows, rows_per_second, time_left, runner_alive, chunks
FROM cascade_delete_jobs;
SELECT table_name, planned_deleted, deleted, planned_updated, updated FROM cascade_delete_job_tables ORDER BY table_name::text;
SELECT table_name, delete_order, count(*) AS pages, sum(array_length(keys, 1)) AS keys FROM cascade_delete_job_key GROUP BY 1, 2 ORDER BY 2;
-- Nothing is deleted yet.
SELECT count(*) FROM orders WHERE customer_id = 1;
CALL cascade_delete_run(:job);
SELECT state, planned_rows = done_rows AS all_done, chunks > 1 AS chunked, runner_alive, runner_pid, last_error,
       time_left, finished IS NOT NULL AS finished
FROM cascade_delete_jobs WHERE job = :job;
SELECT table_name, planned_deleted, deleted, planned_updated, updated FROM cascade_delete_job_tables
WHERE job = :job ORDER BY table_name::text;
SELECT count(*) AS keys_left FROM cascade_delete_job_key WHERE job = :job;
SELECT (SELECT count(*) FROM customer WHERE id = 1) AS customer, (SELECT count(*) FROM orders WHERE customer_id = 1) AS orders,
       (SELECT count(*) FROM line WHERE order_id % 3 = 0) AS lines, (SELECT count(*) FROM note WHERE order_id IS NULL) AS notes_nulled;
SELECT * FROM fired ORDER BY tbl;
-- Run again: nothing to do.
CALL cascade_delete_run(:job);
\set first :job

-- _many with text keys, _where, a composite key (keys as a two-dimensional array).
SELECT cascade_delete_start_many('customer', '{2}', chunk_rows => 7) AS job \gset
CALL cascade_delete_run(:job);
SELECT cascade_delete_start_many('cell', ARRAY[['1', 'y1'], ['2', 'y2']]) AS job \gset
CALL cascade_delete_run(:job);
SELECT cascade_delete_start('cell', ARRAY['3', 'y3']) AS job \gset
CALL cascade_delete_run(:job);
SELECT cascade_delete_start_where('cell', 'x >= 4', chunk_rows => 1) AS job \gset
CALL cascade_delete_run(:job);
SELECT roots, state, planned_rows, done_rows FROM cascade_delete_jobs WHERE job > :first ORDER BY job;
SELECT count(*) AS cells_left FROM cell;
SELECT count(*) AS marks_left FROM mark;

-- A self-reference: one key a chunk, leaves first, so no chunk takes a subtree
-- bigger than itself.
SELECT cascade_delete_start('emp', 1, chunk_rows => 1) AS job \gset
CALL cascade_delete_run(:job);
SELECT state, planned_rows, done_rows, chunks FROM cascade_delete_jobs WHERE job = :job;
SELECT count(*) AS emps_left FROM emp;

-- Refused at the start as the one-transaction call would be, and nothing recorded:
-- customer 3's invoice PROTECTs it.
SELECT cascade_delete_start('customer', 3);
SELECT count(*) AS jobs FROM cascade_delete_job;
-- A table rows cascade from without a primary key: a job deletes by key.
SELECT cascade_delete_start('shelf', 1);
-- Bad input.
SELECT cascade_delete_start('customer', NULL::int);
SELECT cascade_delete_start('customer', 4, chunk_rows => NULL);
SELECT cascade_delete_start('customer', 4, chunk_rows => 0);
SELECT cascade_delete_start('customer', 4, pause => '-1 s');
SELECT cascade_delete_start_where('customer', 'true; DROP TABLE line');
CALL cascade_delete_run(NULL);
CALL cascade_delete_run(99);
SELECT cascade_delete_pause(99);
BEGIN;
CALL cascade_delete_run(:first);
ROLLBACK;
BEGIN READ ONLY;
SELECT cascade_delete_start('emp', 1);
ROLLBACK;

-- Pace, pause and cancel. A cancelled job keeps what its chunks deleted.
INSERT INTO orders VALUES (90, 4), (91, 4);
SELECT cascade_delete_start('customer', 4) AS job \gset
SELECT cascade_delete_pace(:job, chunk_rows => 5, pause => '10 ms', rows_per_second => 1000);
SELECT cascade_delete_pace(:job, chunk_rows => -5);
SELECT chunk_rows, chunk_time, pause, lock_timeout, max_rows_per_second FROM cascade_delete_jobs WHERE job = :job;
SELECT cascade_delete_pause(:job);
SELECT state FROM cascade_delete_jobs WHERE job = :job;
SELECT cascade_delete_cancel(:job);
SELECT state, finished IS NOT NULL AS finished FROM cascade_delete_jobs WHERE job = :job;
SELECT count(*) AS keys_left FROM cascade_delete_job_key WHERE job = :job;
CALL cascade_delete_run(:job);
SELECT cascade_delete_pause(:job);
SELECT cascade_delete_cancel(:first);
SELECT count(*) AS orders_of_4 FROM orders WHERE customer_id = 4;

-- Keys are written as text in formats every session reads alike: a plan
-- under DateStyle 'SQL, DMY' and a run under the default delete the same day.
CREATE TABLE diary (day date PRIMARY KEY, note text);
CREATE TABLE diary_line (id int PRIMARY KEY, day date REFERENCES diary ON DELETE CASCADE);
INSERT INTO diary VALUES ('2024-01-02', 'delete me'), ('2024-02-01', 'keep me');
INSERT INTO diary_line VALUES (1, '2024-01-02'), (2, '2024-02-01');
SET DateStyle = 'SQL, DMY';
SELECT cascade_delete_start_where('diary', $$note = 'delete me'$$) AS job \gset
RESET DateStyle;
CALL cascade_delete_run(:job);
SELECT * FROM diary;
SELECT * FROM diary_line;
-- Sizing never overflows: a huge chunk_rows and chunk_time on a small job.
DELETE FROM invoice;
SELECT cascade_delete_start('customer', 3, chunk_rows => 1000000000, chunk_time => '1 day') AS job \gset
CALL cascade_delete_run(:job);
SELECT state, planned_rows = done_rows AS all_done FROM cascade_delete_jobs WHERE job = :job;
SELECT cascade_delete_pace(:job, lock_timeout => '30 days');
SELECT cascade_delete_pace(:job, rows_per_second => 0);

-- A leaf below very many keys (10,000 orders here, each with one to three
-- lines) is estimated, not counted, by the plan: planned_estimated, a figure
-- near the truth; its chunks count exactly, as the one-transaction call's
-- dry run does. A leaf below fewer keys is counted (the first job above), and
-- so is one with no row below the sampled keys (memo's two rows): its
-- planned 0 would say it has none.
INSERT INTO customer VALUES (5, 'many');
INSERT INTO orders SELECT g, 5 FROM generate_series(10000, 19999) g;
CREATE TABLE memo (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE CASCADE);
INSERT INTO memo VALUES (1, 10007), (2, 15011);
INSERT INTO line SELECT g, 10000 + g % 10000 FROM generate_series(100000, 119999) g;
INSERT INTO line SELECT g, 10000 + g % 10000 FROM generate_series(120000, 124999) g;
ANALYZE orders, line;
SELECT cascade_delete('customer', 5, dry_run => true) -> 'deleted' AS dry \gset
SELECT cascade_delete_start('customer', 5) AS job \gset
SELECT table_name, planned_estimated, planned_deleted = (:'dry'::jsonb ->> ('jb.' || table_name::text))::bigint AS as_dry_run,
       planned_deleted BETWEEN 0.8 * (:'dry'::jsonb ->> ('jb.' || table_name::text))::bigint
                           AND 1.2 * (:'dry'::jsonb ->> ('jb.' || table_name::text))::bigint AS within_20_percent
FROM cascade_delete_job_tables WHERE job = :job ORDER BY table_name::text;
SELECT planned_estimated FROM cascade_delete_jobs WHERE job = :job;
CALL cascade_delete_run(:job);
SELECT table_name, deleted, deleted = (:'dry'::jsonb ->> ('jb.' || table_name::text))::bigint AS as_dry_run
FROM cascade_delete_job_tables WHERE job = :job ORDER BY table_name::text;
SELECT state, planned_estimated FROM cascade_delete_jobs WHERE job = :job;
SELECT planned_estimated FROM cascade_delete_jobs WHERE job = :first;
SELECT count(*) AS lines_left FROM line WHERE order_id >= 10000;

-- Jobs are their owner's: another role sees none and can run none.
CREATE ROLE cd_job_other;
GRANT USAGE ON SCHEMA jb TO cd_job_other;
SET ROLE cd_job_other;
SELECT count(*) FROM cascade_delete_jobs;
SELECT count(*) FROM cascade_delete_job_key;
CALL cascade_delete_run(:first);
SELECT cascade_delete_cancel(:first);
-- Nor write rows for it.
INSERT INTO cascade_delete_job_table (job, table_name) VALUES (:first, 'jb.shelf');
-- Nobody writes a job's keys but the extension: keys written by hand for a
-- table the owner may not delete from are refused, and a superuser who runs
-- the job deletes only what its plan found (security.sql tries more).
RESET ROLE;
CREATE TABLE box (id int PRIMARY KEY);
CREATE TABLE secret (id int PRIMARY KEY);
INSERT INTO box VALUES (1);
INSERT INTO secret VALUES (1), (2);
GRANT SELECT, DELETE ON box TO cd_job_other;
GRANT SELECT ON secret TO cd_job_other;
SET ROLE cd_job_other;
SELECT cascade_delete_start('box', 1) AS job \gset
INSERT INTO cascade_delete_job_key (job, delete_order, table_name, keys) VALUES (:job, -1, 'jb.secret', '{1,2}');
RESET ROLE;
CALL cascade_delete_run(:job);
SELECT state, last_sqlstate FROM cascade_delete_jobs WHERE job = :job;
SELECT count(*) AS secrets FROM secret;
REVOKE ALL ON box, secret FROM cd_job_other;
DISCARD TEMP;  -- key tables made while a chunk ran as cd_job_other are its
DELETE FROM cascade_delete_job WHERE job = :job;
REVOKE USAGE ON SCHEMA jb FROM cd_job_other;
DROP ROLE cd_job_other;

-- A leaf's rows follow their parents as they are when the chunk runs, while
-- a table whose keys the plan saved is deleted by key: a leaf row moved under
-- a parent outside the job survives (planned 2, deleted 1), a moved parent row
-- goes with its key.
CREATE TABLE mv_a (id int PRIMARY KEY);
CREATE TABLE mv_b (id int PRIMARY KEY, a_id int REFERENCES mv_a ON DELETE CASCADE);
CREATE TABLE mv_n (id int PRIMARY KEY, b_id int REFERENCES mv_b ON DELETE CASCADE);
INSERT INTO mv_a VALUES (1), (2);
INSERT INTO mv_b VALUES (1, 1), (2, 1), (3, 2);
INSERT INTO mv_n VALUES (1, 1), (2, 1);
SELECT cascade_delete_start('mv_a', 1) AS job \gset
UPDATE mv_n SET b_id = 3 WHERE id = 1;
UPDATE mv_b SET a_id = 2 WHERE id = 2;
CALL cascade_delete_run(:job);
SELECT table_name, planned_deleted, deleted FROM cascade_delete_job_tables WHERE job = :job ORDER BY table_name::text;
SELECT (SELECT array_agg(id ORDER BY id) FROM mv_b) AS b_left, (SELECT array_agg(id ORDER BY id) FROM mv_n) AS n_left;

DROP SCHEMA jb CASCADE;
DELETE FROM cascade_delete_job;
